/**
 * The Gateway API HTTPRoute that attaches the gateway to Gateways someone else
 * runs (berth.yaml `gateway.httpRoute`; docs/kubernetes.md, "Ingress"): every
 * request for its hostnames to the gateway Service's `http` port. TLS, if any,
 * is the parent Gateway listener's. Like an Ingress, it keeps the gateway
 * Service ClusterIP (ingress.ts).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { SystemFile } from '../config/system-file.ts';
import { gatewayServicePort } from './ingress.ts';
import { labelsFor, namespaced } from './object-meta.ts';

export const httpRouteApiVersion = 'gateway.networking.k8s.io/v1';

/** The gateway's HTTPRoute, or none when berth.yaml sets no `gateway.httpRoute`. */
export function gatewayHttpRoute(system: SystemFile): KubernetesObject[] {
  const route = system.gateway.httpRoute;
  if (!route) return [];
  return [
    {
      apiVersion: httpRouteApiVersion,
      kind: 'HTTPRoute',
      metadata: { ...namespaced(system, 'gateway'), labels: labelsFor(system, 'gateway', 'gateway') },
      // client-node has no model of Gateway API objects: a plain object, as the API takes it.
      spec: {
        parentRefs: route.parentRefs.map((ref) => ({ ...ref })),
        hostnames: [...route.hostnames],
        rules: [{ backendRefs: [{ name: 'gateway', port: gatewayServicePort.number }] }],
      },
    } as KubernetesObject,
  ];
}
