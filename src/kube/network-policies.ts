/**
 * Who may reach a system's pods: its own pods (everything), anyone (the gateway's
 * public port), and any pod of the cluster (the ops port, for a Prometheus in a
 * namespace of its own). Probes come from the kubelet, which policies do not filter.
 */
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import type { SystemFile } from '../config/system-file.ts';
import { labelsFor, namespaced, selectorFor } from './object-meta.ts';

type Ingress = Array<{ from?: unknown[]; ports?: Array<{ port: string; protocol: 'TCP' }> }>;

export function networkPolicies(system: SystemFile): V1NetworkPolicy[] {
  const partOf = { 'app.kubernetes.io/part-of': system.system };
  return [
    ingressPolicy(system, 'internal', partOf, [{ from: [{ podSelector: { matchLabels: partOf } }] }]),
    ingressPolicy(system, 'gateway-public', selectorFor(system, 'gateway'), [
      { ports: [{ port: 'http2', protocol: 'TCP' }] },
    ]),
    ingressPolicy(system, 'ops', partOf, [
      { from: [{ namespaceSelector: {} }], ports: [{ port: 'ops', protocol: 'TCP' }] },
    ]),
  ];
}

/** `<system>-<name>`: pods matching `podSelector` take the `ingress` rules' traffic. */
function ingressPolicy(
  system: SystemFile,
  name: string,
  podSelector: Record<string, string>,
  ingress: Ingress,
): V1NetworkPolicy {
  // A plain JSON object: client-node's model classes name `from` as `_from`, hence the cast.
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      ...namespaced(system, `${system.system}-${name}`),
      labels: labelsFor(system, 'network', 'policy'),
    },
    spec: { podSelector: { matchLabels: podSelector }, policyTypes: ['Ingress'], ingress },
  } as unknown as V1NetworkPolicy;
}
