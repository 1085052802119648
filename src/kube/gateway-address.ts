/**
 * Where the gateway of a deployed system can be reached from this machine, read
 * from its Ingress or Service (what `berth status` prints):
 *
 *  - with `gateway.ingress` in berth.yaml and its Ingress deployed: `https://<host>`
 *    (`http://` without TLS), and the address the ingress controller gave it, if any;
 *  - LoadBalancer with an ingress IP or hostname: `http://<ingress>:<port>`;
 *  - LoadBalancer still pending (no cloud controller has given it an address),
 *    or NodePort: `http://<node InternalIP>:<nodePort>` of a Ready node, real
 *    nodes before KWOK's fake ones (nothing listens on those);
 *  - ClusterIP: no URL; reachable only inside the cluster, or through
 *    `kubectl port-forward`.
 */
import type { V1Ingress, V1Node, V1Service } from '@kubernetes/client-node';
import type { SystemFile } from '../config/system-file.ts';
import { ingressUrl } from './ingress.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';

export interface GatewayAddress {
  /** A URL that reaches the gateway from here; undefined when there is none. */
  readonly url: string | undefined;
  /** How the URL reaches it, or why there is none and what to do instead. */
  readonly note: string;
}

/** KWOK marks the nodes it fakes so; their addresses answer nothing. */
const fakeNodeAnnotation = 'kwok.x-k8s.io/node';

const hostInUrl = (host: string) => (host.includes(':') ? `[${host}]` : host);

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** `http://<InternalIP>:<nodePort>` of the first Ready node, real ones first, by name. */
async function nodePortAddress(client: KubeClient, nodePort: number): Promise<GatewayAddress> {
  let nodes: V1Node[];
  try {
    nodes = (await client.list<V1Node>('v1', 'Node', undefined)).items;
  } catch (error) {
    if (!(error instanceof KubeApiError)) throw error;
    return {
      url: undefined,
      note: `NodePort ${nodePort} on every node, but berth cannot list the nodes to name one (${error.status} ${error.reason}: ${error.detail})`,
    };
  }
  const candidates = nodes
    .filter(isReady)
    .map((node) => ({
      name: node.metadata?.name ?? '?',
      fake: node.metadata?.annotations?.[fakeNodeAnnotation] === 'fake',
      ip: node.status?.addresses?.find((address) => address.type === 'InternalIP')?.address,
    }))
    .filter((node) => node.ip !== undefined)
    .sort((a, b) => Number(a.fake) - Number(b.fake) || a.name.localeCompare(b.name));
  const node = candidates[0];
  if (!node) return { url: undefined, note: `NodePort ${nodePort}, but no node is Ready with an InternalIP` };
  return {
    url: `http://${hostInUrl(node.ip!)}:${nodePort}`,
    note: `NodePort ${nodePort} on node ${node.name}${node.fake ? ', a KWOK fake node where nothing answers' : ''}`,
  };
}

/** The Ingress's URL, and where its controller serves it (the host's DNS must point there). */
function ingressAddress(ingress: V1Ingress): GatewayAddress | undefined {
  const url = ingressUrl(ingress);
  if (url === undefined) return undefined;
  const className = ingress.spec?.ingressClassName;
  const via = `Ingress${className ? ` (class ${className})` : ''}`;
  const address = ingress.status?.loadBalancer?.ingress?.[0];
  const at = address?.ip ?? address?.hostname;
  return {
    url,
    note: at ? `${via} at ${at}` : `${via}, no address yet: no ingress controller has admitted it`,
  };
}

/** undefined when the system has no gateway Service (nothing deployed). */
export async function gatewayAddress(
  client: KubeClient,
  system: SystemFile,
): Promise<GatewayAddress | undefined> {
  if (system.gateway.ingress) {
    const ingress = await client.get<V1Ingress>(
      'networking.k8s.io/v1',
      'Ingress',
      system.namespace,
      'gateway',
    );
    const address = ingress && ingressAddress(ingress);
    if (address) return address;
  }
  const service = await client.get<V1Service>('v1', 'Service', system.namespace, 'gateway');
  if (!service) return undefined;
  const port =
    service.spec?.ports?.find((candidate) => candidate.name === 'http') ?? service.spec?.ports?.[0];
  if (!port) return { url: undefined, note: 'the gateway Service has no port' };
  const type = service.spec?.type ?? 'ClusterIP';
  if (type === 'LoadBalancer') {
    const ingress = service.status?.loadBalancer?.ingress?.[0];
    const host = ingress?.ip ?? ingress?.hostname;
    if (host) return { url: `http://${hostInUrl(host)}:${port.port}`, note: 'LoadBalancer' };
    const pending = 'LoadBalancer pending: no external address yet';
    if (port.nodePort === undefined) return { url: undefined, note: pending };
    const fallback = await nodePortAddress(client, port.nodePort);
    return { url: fallback.url, note: `${pending}; meanwhile ${fallback.note}` };
  }
  if (type === 'NodePort' && port.nodePort !== undefined) return nodePortAddress(client, port.nodePort);
  return {
    url: undefined,
    note:
      `a ${type} Service is reachable only inside the cluster; from here: ` +
      `kubectl port-forward -n ${system.namespace} service/gateway 8080:${port.port}, then http://localhost:8080`,
  };
}
