/**
 * A follower: a process that does what the gateway does for discovery and nothing
 * else, so its CPU time and RSS are discovery's own. It runs berth's registry
 * (LocalRegistry or KubeRegistry) behind a RegistryCache, or, as the Kubernetes
 * baseline, one bare client-node informer on the same EndpointSlices. run.ts
 * drives it over IPC (protocol.ts): `expect` N → `reached` when exactly N
 * instances are known; `idle` ms → `idled`; `stop`.
 *
 * Usage: node bench/discovery/follower.ts '<FollowerConfig as JSON>'
 */
import { subscribe } from 'node:diagnostics_channel';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { createLogger } from '../../src/log/logger.ts';
import type { Registry } from '../../src/registry/registry.ts';
import { RegistryCache } from '../../src/registry/registry-cache.ts';
import {
  type FollowerConfig,
  type FromFollower,
  hrtimeMs,
  protoService,
  serviceName,
  type ToFollower,
  type Usage,
} from './protocol.ts';

const send = (message: FromFollower) => process.send!(message);

// ---------------------------------------------------------------- what it costs
let events = 0;
let requests = 0;
let connections = 0;
// Every HTTP request and connection of the process, client-node's included (it uses undici).
subscribe('undici:request:create', () => {
  requests += 1;
});
subscribe('undici:client:connected', () => {
  connections += 1;
});

interface Mark {
  readonly cpu: NodeJS.CpuUsage;
  readonly events: number;
  readonly requests: number;
  readonly connections: number;
}

const mark = (): Mark => ({ cpu: process.cpuUsage(), events, requests, connections });
const zero: Mark = { cpu: { user: 0, system: 0 }, events: 0, requests: 0, connections: 0 };

function usageSince(from: Mark): Usage {
  const cpu = process.cpuUsage(from.cpu);
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    events: events - from.events,
    requests: requests - from.requests,
    connections: connections - from.connections,
    // maxRSS is in kB on Linux.
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    rssMb: process.memoryUsage.rss() / 2 ** 20,
  };
}

// ---------------------------------------------------------------- what it follows
interface Followed {
  /** Instances known now. */
  count(): number;
  /** Of those, how many are offered by proto service. */
  serving(): number;
  /** Calls `listener` after every change. */
  onChange(listener: () => void): void;
  close(): Promise<void>;
}

/** The registry as the cache sees it, counting the events the cache consumes. */
function counted(registry: Registry): Registry {
  return {
    register: (instance, signal) => registry.register(instance, signal),
    deregister: (id, signal) => registry.deregister(id, signal),
    list: (name, signal) => registry.list(name, signal),
    watch(options) {
      const inner = registry.watch(options);
      return (async function* () {
        for await (const event of inner) {
          events += 1;
          yield event;
        }
      })();
    },
    close: () => registry.close(),
  };
}

/** What the gateway runs: a registry behind a RegistryCache. */
async function followWithCache(registry: Registry): Promise<Followed> {
  const logger = createLogger({ level: 'warn', name: 'follower' });
  const cache = new RegistryCache(counted(registry), logger);
  await cache.start();
  return {
    count: () => cache.instances(serviceName).length,
    serving: () => cache.instancesServing(protoService).filter((i) => i.name === serviceName).length,
    onChange: (listener) => void cache.onChange(listener),
    async close() {
      await cache.close();
      await registry.close();
    },
  };
}

/**
 * The baseline: client-node's informer on the same EndpointSlices, counting ready
 * endpoints by the same rule as KubeRegistry (ready unless `ready: false`, never
 * terminating), without a Service informer, instance objects or a cache on top.
 */
async function followWithInformer(
  config: Extract<FollowerConfig, { mode: 'kube' | 'kube-informer' }>,
): Promise<Followed> {
  const { DiscoveryV1Api, KubeConfig, makeInformer } = await import('@kubernetes/client-node');
  const { callableServiceLabels, labelSelector } = await import('../../src/kube/object-meta.ts');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(config.kubeconfig);
  const { namespace } = config;
  const selector = labelSelector(callableServiceLabels(config.system));
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const informer = makeInformer<V1EndpointSlice>(
    kubeConfig,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector: selector }),
    selector,
  );
  const readyBySlice = new Map<string, number>();
  let total = 0;
  const listeners: Array<() => void> = [];
  const set = (slice: V1EndpointSlice, ready: number) => {
    events += 1;
    const key = slice.metadata?.name ?? '';
    total += ready - (readyBySlice.get(key) ?? 0);
    if (ready === 0) readyBySlice.delete(key);
    else readyBySlice.set(key, ready);
    for (const listener of listeners) listener();
  };
  const readyOf = (slice: V1EndpointSlice) =>
    slice.metadata?.labels?.['kubernetes.io/service-name'] !== serviceName
      ? 0
      : (slice.endpoints ?? []).filter(
          (endpoint) =>
            endpoint.conditions?.ready !== false &&
            endpoint.conditions?.terminating !== true &&
            endpoint.addresses.length > 0,
        ).length;
  informer.on('add', (slice) => set(slice, readyOf(slice)));
  informer.on('update', (slice) => set(slice, readyOf(slice)));
  informer.on('delete', (slice) => set(slice, 0));
  informer.on('error', (error: unknown) => send({ type: 'failed', message: `informer: ${String(error)}` }));
  await informer.start();
  return {
    count: () => total,
    serving: () => total,
    onChange: (listener) => void listeners.push(listener),
    close: () => informer.stop(),
  };
}

async function follow(config: FollowerConfig): Promise<Followed> {
  switch (config.mode) {
    // Each mode loads only what it uses, as the gateway does (client-node is large).
    case 'local': {
      const { LocalRegistry } = await import('../../src/registry/local-registry.ts');
      return followWithCache(new LocalRegistry({ dir: config.dir }));
    }
    case 'kube': {
      const { KubeConfig } = await import('@kubernetes/client-node');
      const { KubeRegistry } = await import('../../src/kube/kube-registry.ts');
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(config.kubeconfig);
      const logger = createLogger({ level: 'warn', name: 'kube-registry' });
      return followWithCache(
        new KubeRegistry({ kubeConfig, namespace: config.namespace, system: config.system, logger }),
      );
    }
    case 'kube-informer':
      return followWithInformer(config);
  }
}

// ---------------------------------------------------------------- driven by run.ts
async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as FollowerConfig;
  const followed = await follow(config);
  send({ type: 'synced', count: followed.count(), usage: usageSince(zero) });

  let expected: { count: number; since: Mark } | undefined;
  let checkQueued = false;
  const check = () => {
    checkQueued = false;
    if (!expected) return;
    const count = followed.count();
    if (count !== expected.count) return;
    const atMs = hrtimeMs();
    const usage = usageSince(expected.since);
    expected = undefined;
    send({ type: 'reached', count, atMs, serving: followed.serving(), usage });
  };
  // One check per turn of the event loop, however many changes it brought.
  followed.onChange(() => {
    if (checkQueued || !expected) return;
    checkQueued = true;
    setImmediate(check);
  });

  process.on('message', (message: ToFollower) => {
    switch (message.type) {
      case 'expect':
        expected = { count: message.count, since: mark() };
        send({ type: 'armed' });
        check();
        break;
      case 'idle': {
        const since = mark();
        setTimeout(
          () => send({ type: 'idled', count: followed.count(), usage: usageSince(since) }),
          message.ms,
        );
        break;
      }
      case 'stop':
        void followed.close().finally(() => process.exit(0));
        break;
    }
  });
  // run.ts gone: nothing left to report to.
  process.on('disconnect', () => process.exit(0));
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.send!({ type: 'failed', message } satisfies FromFollower, undefined, {}, () => process.exit(1));
});
