/**
 * The Ingress that publishes the gateway at berth.yaml's `gateway.ingress.host`
 * (docs/kubernetes.md, "Ingress"): every path of that host to the gateway
 * Service's `http` port, with TLS terminated by the ingress controller, from a
 * Secret the user provides or one cert-manager issues from a ClusterIssuer.
 *
 * With an ingress the ingress controller is the public entry, so the gateway
 * Service stays ClusterIP (manifests.ts): a LoadBalancer next to it would be a
 * second public address, without TLS.
 */
import type { V1Ingress } from '@kubernetes/client-node';
import { clusterIssuerAnnotation } from '../config/gateway-routes-schema.ts';
import type { GatewayIngressSpec, SystemFile } from '../config/system-file.ts';
import { labelsFor, namespaced } from './object-meta.ts';

/** The gateway Service's port that the Ingress (and any HTTPRoute) sends to. */
export const gatewayServicePort = { name: 'http', number: 80 } as const;

/** The gateway's Service type: ClusterIP behind an Ingress or HTTPRoute, else LoadBalancer (NodePort in `dev`). */
export function gatewayServiceType(system: SystemFile): 'ClusterIP' | 'NodePort' | 'LoadBalancer' {
  if (system.gateway.ingress || system.gateway.httpRoute) return 'ClusterIP';
  return system.environment === 'dev' ? 'NodePort' : 'LoadBalancer';
}

/** Annotations as berth.yaml gives them, cert-manager's issuer added, sorted by key (deterministic). */
function ingressAnnotations(ingress: GatewayIngressSpec): Record<string, string> {
  const annotations: Record<string, string> = { ...ingress.annotations };
  if (ingress.tls?.clusterIssuer) annotations[clusterIssuerAnnotation] = ingress.tls.clusterIssuer;
  return Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => a.localeCompare(b)));
}

/** The gateway's Ingress, or none when berth.yaml sets no `gateway.ingress`. */
export function gatewayIngress(system: SystemFile): V1Ingress[] {
  const ingress = system.gateway.ingress;
  if (!ingress) return [];
  const annotations = ingressAnnotations(ingress);
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        ...namespaced(system, 'gateway'),
        labels: labelsFor(system, 'gateway', 'gateway'),
        // Left out when empty: the API server drops an empty map, and the object would look changed on every deploy.
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      },
      spec: {
        ...(ingress.className ? { ingressClassName: ingress.className } : {}),
        ...(ingress.tls ? { tls: [{ hosts: [ingress.host], secretName: ingress.tls.secretName }] } : {}),
        rules: [
          {
            host: ingress.host,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'gateway', port: { name: gatewayServicePort.name } } },
                },
              ],
            },
          },
        ],
      },
    },
  ];
}

/** The URL the Ingress serves the gateway at: https when it terminates TLS. */
export function ingressUrl(ingress: V1Ingress): string | undefined {
  const host = ingress.spec?.rules?.find((rule) => rule.host !== undefined)?.host;
  if (host === undefined) return undefined;
  const secure = ingress.spec?.tls?.some((tls) => tls.hosts?.includes(host)) === true;
  return `${secure ? 'https' : 'http'}://${host}`;
}
