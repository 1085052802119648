/**
 * Prometheus metrics for one process, on its own prom-client Registry (never the
 * global default one, so two services in one test process do not collide):
 *
 *   berth_rpc_requests_total{service, method, code}          counter
 *   berth_rpc_duration_seconds{service, method, code}        histogram, 100 µs .. 10 s
 *   process_* / nodejs_*                                      prom-client default metrics
 *
 * `service` is the service that handled the call; a gateway records calls it
 * forwards with `service` = the target service, so both sides have the same shape
 * and are told apart by the `instance` label (set on every metric when given).
 * `code` is the Connect code name (`ok`, `not_found`, `unavailable`...).
 *
 * prom-client is loaded on the first scrape, not at start: it costs ~14 MB of RSS
 * and ~0.35 s of start-up, a fifth of a service's budget (measured, Node 24), and
 * a process nobody scrapes (a laptop run) never needs it. Its default metrics
 * (event-loop lag, GC) therefore count from the first scrape on.
 *
 * `observeRpc` is on the hot path: the labelled series are cached per
 * (service, method, code), so an observation is three Map lookups, two adds and a
 * bucket scan (see fast-metrics.ts for why not prom-client's own children). Keep
 * `method` to known method names (a gateway labels unknown ones `unknown`): every
 * distinct value is a series kept for the life of the process.
 */
import type { Registry } from 'prom-client';
import { type CounterChild, FastCounter, FastHistogram, type HistogramChild } from './fast-metrics.ts';

export type RpcLabel = 'service' | 'method' | 'code';

export interface MetricsOptions {
  /** The service this process serves (default `service` label of observeRpc). */
  readonly service: string;
  /** Identifies this process among replicas, e.g. `vessel-1`; added to every metric as `instance`. */
  readonly instance?: string;
  /** Collect prom-client's process and Node.js metrics. Default true. */
  readonly defaultMetrics?: boolean;
}

export interface Metrics {
  /** The registry everything is on (loaded on first use); register a service's own metrics here too. */
  registry(): Promise<Registry>;
  readonly rpcRequests: FastCounter<RpcLabel>;
  readonly rpcDuration: FastHistogram<RpcLabel>;
  /** Count one call and its duration in seconds; `service` defaults to this process's. */
  observeRpc(method: string, code: string, seconds: number, service?: string): void;
  /** The `/metrics` response. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Sub-millisecond to 10 s, roughly ×2.5 apart. */
export const RPC_DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface Children {
  readonly count: CounterChild;
  readonly duration: HistogramChild;
}

export function createMetrics(options: MetricsOptions): Metrics {
  let loading: Promise<Registry> | undefined;
  const registry = () => {
    loading ??= import('prom-client').then(({ Registry, collectDefaultMetrics }) => {
      const loaded = new Registry();
      if (options.instance !== undefined) loaded.setDefaultLabels({ instance: options.instance });
      if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: loaded });
      loaded.registerMetric(rpcRequests as never);
      loaded.registerMetric(rpcDuration as never);
      return loaded;
    });
    return loading;
  };

  const labelNames: RpcLabel[] = ['service', 'method', 'code'];
  const rpcRequests = new FastCounter<RpcLabel>({
    name: 'berth_rpc_requests_total',
    help: 'RPC calls handled, by service, method and Connect code.',
    labelNames,
  });
  const rpcDuration = new FastHistogram<RpcLabel>({
    name: 'berth_rpc_duration_seconds',
    help: 'RPC call duration in seconds, by service, method and Connect code.',
    labelNames,
    buckets: RPC_DURATION_BUCKETS,
  });

  // service → method → code → children. Nested maps avoid building a key string per call.
  const cache = new Map<string, Map<string, Map<string, Children>>>();
  const children = (service: string, method: string, code: string): Children => {
    let byMethod = cache.get(service);
    if (!byMethod) {
      byMethod = new Map();
      cache.set(service, byMethod);
    }
    let byCode = byMethod.get(method);
    if (!byCode) {
      byCode = new Map();
      byMethod.set(method, byCode);
    }
    let found = byCode.get(code);
    if (!found) {
      found = {
        count: rpcRequests.labels(service, method, code),
        duration: rpcDuration.labels(service, method, code),
      };
      byCode.set(code, found);
    }
    return found;
  };

  return {
    registry,
    rpcRequests,
    rpcDuration,
    observeRpc(method, code, seconds, service = options.service) {
      const child = children(service, method, code);
      child.count.inc();
      child.duration.observe(seconds);
    },
    async render() {
      const loaded = await registry();
      return { contentType: loaded.contentType, body: await loaded.metrics() };
    },
  };
}
