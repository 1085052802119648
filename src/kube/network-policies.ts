/**
 * Who may reach a system's pods, and whom they may reach (docs/kubernetes.md,
 * "Egress").
 *
 * Ingress: its own pods (everything), anyone (the gateway's public port), and any
 * pod of the cluster (the ops port, for a Prometheus in a namespace of its own).
 * Probes come from the kubelet, which policies do not filter.
 *
 * Egress: every pod of the system is selected by an egress policy, and policies
 * add up, so a pod reaches exactly the union of the rules that select it: DNS and
 * the system's services for every berth process, the API server for those that
 * watch it, postgres and nats for those that `use` them, what a service's own
 * `egress` lists (`<system>-<service>-egress`, only for a service that lists
 * some), DNS and postgres for the Job that makes the services' database roles, nothing for postgres and nats themselves. Which service calls which is in
 * its code, not in berth.yaml (`dependsOn` is start order), so a berth process may
 * call any of the system's services, and nothing else outside the system.
 */
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import type { EgressRule, ResourceKind, SystemFile } from '../config/system-file.ts';
import { databaseRolesName, databaseUsers } from './database-roles.ts';
import { inCluster } from './in-cluster.ts';
import { labelsFor, namespaced, selectorFor } from './object-meta.ts';

type Protocol = EgressRule['protocol'];
interface PortRule {
  readonly port: number | string;
  readonly protocol: Protocol;
}
interface LabelSelector {
  readonly matchLabels?: Record<string, string>;
  readonly matchExpressions?: ReadonlyArray<{ key: string; operator: 'In'; values: string[] }>;
}
interface Peer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: { readonly cidr: string };
}
interface Ingress {
  readonly from?: Peer[];
  readonly ports?: PortRule[];
}
interface Egress {
  readonly to?: Peer[];
  readonly ports?: PortRule[];
}

/**
 * The ports API servers serve on: 443 (EKS, GKE, AKS and most managed clusters)
 * and 6443 (kubeadm, kind, k3s, Talos). Pods reach the API server through the
 * `kubernetes` Service, which kube-proxy rewrites to the endpoint's own address
 * and port before policies apply, so the rule must name that port; its address
 * is not a pod's and may change (a managed control plane moves), hence any address.
 */
export const apiServerPorts: readonly number[] = [443, 6443];

/** What a protocol's URL means without a port, for resources and collectors outside the cluster. */
const defaultPorts: Readonly<Record<string, number>> = {
  'postgres:': 5432,
  'postgresql:': 5432,
  'nats:': 4222,
  'tls:': 4222,
  'http:': 80,
  'https:': 443,
};

/** Any address: for destinations that are no pods of the cluster, or whose pods cannot be named. */
const anyAddress: Peer[] = [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }];

/** CoreDNS (or kube-dns) as every common distribution runs it: `k8s-app: kube-dns` in kube-system. */
const clusterDns: Egress = {
  to: [
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
    },
  ],
  ports: [
    { port: 53, protocol: 'UDP' },
    { port: 53, protocol: 'TCP' },
  ],
};

export interface NetworkPolicyInputs {
  /** Berth processes that list and watch the API server (the gateway and services on the kubernetes registry). */
  readonly apiWatchers: readonly string[];
}

export function networkPolicies(system: SystemFile, { apiWatchers }: NetworkPolicyInputs): V1NetworkPolicy[] {
  const partOf = { 'app.kubernetes.io/part-of': system.system };
  return [
    policy(
      system,
      'internal',
      { matchLabels: partOf },
      { ingress: [{ from: [{ podSelector: { matchLabels: partOf } }] }] },
    ),
    policy(
      system,
      'gateway-public',
      { matchLabels: selectorFor(system, 'gateway') },
      {
        ingress: [{ ports: [{ port: 'http2', protocol: 'TCP' }] }],
      },
    ),
    policy(
      system,
      'ops',
      { matchLabels: partOf },
      {
        ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 'ops', protocol: 'TCP' }] }],
      },
    ),
    ...egressPolicies(system, apiWatchers),
  ];
}

function egressPolicies(system: SystemFile, apiWatchers: readonly string[]): V1NetworkPolicy[] {
  const services = Object.keys(system.services).sort();
  const processes = [...services, 'gateway'];
  const servicePods = [{ podSelector: podsNamed(system, services) }];
  const users = (kind: ResourceKind) => services.filter((name) => system.services[name]!.uses.includes(kind));
  const egress = (name: string, selected: readonly string[], rules: Egress[]) =>
    selected.length > 0 ? [policy(system, name, podsNamed(system, selected), { egress: rules })] : [];
  const telemetry = system.telemetry?.otlpEndpoint;
  return [
    ...egress('egress', processes, [
      clusterDns,
      { to: servicePods, ports: [{ port: 'http2', protocol: 'TCP' }] },
      ...(telemetry ? [urlDestination(telemetry, 'telemetry.otlpEndpoint')] : []),
    ]),
    // The gateway's /_berth/services probes each instance's /readyz on its ops port.
    ...egress(
      'egress-gateway',
      ['gateway'],
      [{ to: servicePods, ports: [{ port: 'ops', protocol: 'TCP' }] }],
    ),
    ...egress('egress-api-server', [...apiWatchers].sort(), [
      { to: anyAddress, ports: apiServerPorts.map((port) => ({ port, protocol: 'TCP' })) },
    ]),
    ...egress('egress-postgres', users('postgres'), resourceDestinations(system, 'postgres')),
    ...egress('egress-nats', users('nats'), resourceDestinations(system, 'nats')),
    // The Job that makes each service's database role: the name of PostgreSQL, and PostgreSQL.
    ...egress('egress-database-roles', databaseUsers(system).length > 0 ? [databaseRolesName] : [], [
      clusterDns,
      ...resourceDestinations(system, 'postgres'),
    ]),
    // A policy per service that has destinations of its own, as a policy's rules hold for every pod it
    // selects. `<system>-<service>-egress` is never a system-wide policy's name: of those only
    // `<system>-egress` ends in `-egress`.
    ...services.flatMap((name) => {
      const own = system.services[name]!.egress;
      return egress(`${name}-egress`, own.length > 0 ? [name] : [], own.map(ownDestination));
    }),
    // Neither server opens a connection of its own: no egress rule, so nothing.
    ...egress(
      'egress-resources',
      (['nats', 'postgres'] as const).filter((kind) => inCluster(system, kind)),
      [],
    ),
  ];
}

/** The in-cluster server's pods on its named port, else what its external URL names. */
function resourceDestinations(system: SystemFile, kind: ResourceKind): Egress[] {
  const spec = system.resources[kind];
  if (spec?.url !== undefined) {
    // NATS clients take a comma-separated list of servers.
    const urls = kind === 'nats' ? spec.url.split(',') : [spec.url];
    return urls.map((url) => urlDestination(url.trim(), `resources.${kind}.url`));
  }
  if (spec?.urlSecret !== undefined) {
    // The URL is in a Secret berth does not read: its protocol's usual port, anywhere.
    return [{ to: anyAddress, ports: [{ port: defaultPorts[`${kind}:`]!, protocol: 'TCP' }] }];
  }
  return [
    {
      to: [{ podSelector: { matchLabels: selectorFor(system, kind) } }],
      ports: [{ port: kind, protocol: 'TCP' }],
    },
  ];
}

/** berth.yaml `services.<name>.egress[]`: its port, within its CIDR or at any address. */
function ownDestination({ port, cidr, protocol }: EgressRule): Egress {
  return { to: cidr !== undefined ? [{ ipBlock: { cidr } }] : anyAddress, ports: [{ port, protocol }] };
}

/** A URL's port (or its protocol's), at its address when that is an IP, else at any address. */
function urlDestination(url: string, key: string): Egress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${key}: "${url}" is not a URL; write it as <protocol>://<host>[:<port>]`);
  }
  const port = parsed.port ? Number(parsed.port) : defaultPorts[parsed.protocol];
  if (port === undefined) {
    throw new Error(`${key}: "${url}" names no port and ${parsed.protocol} has no usual one; add :<port>`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const ipBlock = /^[\d.]+$/.test(host) ? `${host}/32` : host.includes(':') ? `${host}/128` : undefined;
  return { to: ipBlock ? [{ ipBlock: { cidr: ipBlock } }] : anyAddress, ports: [{ port, protocol: 'TCP' }] };
}

/** The pods of the named workloads of this system (canaries included: they share the name label). */
function podsNamed(system: SystemFile, names: readonly string[]): LabelSelector {
  return {
    matchLabels: { 'app.kubernetes.io/part-of': system.system },
    matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: [...names] }],
  };
}

/** `<system>-<name>`: the rules apply to the pods `podSelector` matches. */
function policy(
  system: SystemFile,
  name: string,
  podSelector: LabelSelector,
  rules: { ingress: Ingress[] } | { egress: Egress[] },
): V1NetworkPolicy {
  // A plain JSON object: client-node's model classes name `from` as `_from`, hence the cast.
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      ...namespaced(system, `${system.system}-${name}`),
      labels: labelsFor(system, 'network', 'policy'),
    },
    spec: {
      podSelector,
      policyTypes: ['ingress' in rules ? 'Ingress' : 'Egress'],
      // No rules at all (nothing allowed) is said by leaving the list out: the API
      // server drops an empty one, and the object would look changed on every deploy.
      ...(Object.values(rules)[0].length > 0 ? rules : {}),
    },
  } as unknown as V1NetworkPolicy;
}
