/**
 * The Metrics page: requests/s, error rate and latency per service and method,
 * from what each instance already exposes at `/metrics` (src/metrics/metrics.ts:
 * `berth_rpc_requests_total` and the `berth_rpc_duration_seconds` histogram, by
 * service, method and code). The gateway is scraped too: it labels the calls it
 * forwards with the target service, so its rows are the callers' view (with the
 * network and the gateway's own time) beside each service's own.
 *
 * Everything but the total is over a window, not since start: the difference
 * between the last two scrapes of each instance (metrics-scraper.ts, every 5 s), the p95 from the
 * difference of the histogram's buckets. A counter lower than at the previous
 * scrape means the instance restarted: it counts from zero again, so its whole
 * count is the window's (as Prometheus's rate() treats a reset).
 */

import { bucketQuantile } from './bucket-quantile.ts';

/** Where a call was measured: by the gateway that forwarded it, or by the service that handled it. */
export type MeasuredAt = 'gateway' | 'service';

export interface MethodMetrics {
  readonly service: string;
  readonly method: string;
  readonly measuredAt: MeasuredAt;
  /** Since each instance started. */
  readonly requests: number;
  /** The longest of the instances' windows; undefined until an instance was scraped twice. */
  readonly windowSeconds: number | undefined;
  /** Over the window (as all below); undefined without one. */
  readonly requestsPerSecond: number | undefined;
  /** Errors (any code but `ok`) / requests; undefined without a request in the window. */
  readonly errorRate: number | undefined;
  readonly meanMs: number | undefined;
  /** The upper bound of the histogram bucket holding the 95th percentile of the window's calls. */
  readonly p95Ms: number | undefined;
}

/** One series of calls (a service and method, all codes) as counted by one instance (or summed over several). */
export interface Sample {
  requests: number;
  errors: number;
  sumSeconds: number;
  count: number;
  /** Cumulative counts by bucket bound (seconds). */
  readonly buckets: Map<number, number>;
}

/** One instance's /metrics at one moment, by `service method`. */
export interface Scrape {
  readonly atMs: number;
  readonly samples: ReadonlyMap<string, Sample>;
}

/** The scrapes of one instance: its last and, once there is one, the one before. */
export interface InstanceScrapes {
  readonly measuredAt: MeasuredAt;
  readonly previous: Scrape | undefined;
  readonly current: Scrape;
}

const line = /^([a-z_]+)\{([^}]*)\}\s+(\S+)/;
const label = /([a-z_]+)="((?:[^"\\]|\\.)*)"/g;
const empty = (): Sample => ({ requests: 0, errors: 0, sumSeconds: 0, count: 0, buckets: new Map() });

/** The rpc samples of one instance's Prometheus text, by `service method`. */
export function parseRpcMetrics(text: string): Map<string, Sample> {
  const samples = new Map<string, Sample>();
  for (const row of text.split('\n')) {
    const match = line.exec(row);
    if (!match || !match[1]!.startsWith('berth_rpc_')) continue;
    const labels = Object.fromEntries([...match[2]!.matchAll(label)].map((m) => [m[1], m[2]]));
    const key = `${labels.service ?? '?'} ${labels.method ?? '?'}`;
    let sample = samples.get(key);
    if (!sample) {
      sample = empty();
      samples.set(key, sample);
    }
    const value = Number(match[3]);
    switch (match[1]) {
      case 'berth_rpc_requests_total':
        sample.requests += value;
        if (labels.code !== 'ok') sample.errors += value;
        break;
      case 'berth_rpc_duration_seconds_sum':
        sample.sumSeconds += value;
        break;
      case 'berth_rpc_duration_seconds_count':
        sample.count += value;
        break;
      case 'berth_rpc_duration_seconds_bucket': {
        const bound = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
        add(sample.buckets, bound, value);
        break;
      }
    }
  }
  return samples;
}

/** The rows of the page: each series summed over the instances that measured it. */
export function methodMetrics(instances: readonly InstanceScrapes[]): MethodMetrics[] {
  interface Row {
    total: number;
    window: Sample | undefined;
    windowSeconds: number;
    requestsPerSecond: number;
  }
  const rows = new Map<string, Row>();
  for (const { measuredAt, previous, current } of instances) {
    const seconds = previous ? (current.atMs - previous.atMs) / 1000 : 0;
    for (const [key, sample] of current.samples) {
      const id = `${measuredAt} ${key}`;
      let row = rows.get(id);
      if (!row) {
        row = { total: 0, window: undefined, windowSeconds: 0, requestsPerSecond: 0 };
        rows.set(id, row);
      }
      row.total += sample.requests;
      if (!previous || seconds <= 0) continue;
      const delta = difference(sample, previous.samples.get(key));
      row.window ??= empty();
      addInto(row.window, delta);
      row.windowSeconds = Math.max(row.windowSeconds, seconds);
      row.requestsPerSecond += delta.requests / seconds;
    }
  }
  return [...rows]
    .map(([id, row]): MethodMetrics => {
      const [measuredAt, service, method] = id.split(' ') as [MeasuredAt, string, string];
      const window = row.window;
      const calls = window?.requests ?? 0;
      return {
        service,
        method,
        measuredAt,
        requests: row.total,
        windowSeconds: window && row.windowSeconds,
        requestsPerSecond: window && row.requestsPerSecond,
        errorRate: calls === 0 ? undefined : window!.errors / calls,
        meanMs: !window || window.count === 0 ? undefined : (window.sumSeconds / window.count) * 1000,
        p95Ms: window && p95(window.buckets, window.count),
      };
    })
    .sort(
      (a, b) =>
        a.service.localeCompare(b.service) ||
        a.method.localeCompare(b.method) ||
        a.measuredAt.localeCompare(b.measuredAt),
    );
}

/** What `current` counted since `before`; all of it when the counters went back (a restart). */
function difference(current: Sample, before: Sample | undefined): Sample {
  if (!before || current.requests < before.requests || current.count < before.count) return current;
  const buckets = new Map<number, number>();
  for (const [bound, n] of current.buckets) buckets.set(bound, n - (before.buckets.get(bound) ?? 0));
  return {
    requests: current.requests - before.requests,
    errors: Math.max(0, current.errors - before.errors),
    sumSeconds: current.sumSeconds - before.sumSeconds,
    count: current.count - before.count,
    buckets,
  };
}

function addInto(into: Sample, sample: Sample): void {
  into.requests += sample.requests;
  into.errors += sample.errors;
  into.sumSeconds += sample.sumSeconds;
  into.count += sample.count;
  for (const [bound, n] of sample.buckets) add(into.buckets, bound, n);
}

function add(buckets: Map<number, number>, bound: number, n: number): void {
  buckets.set(bound, (buckets.get(bound) ?? 0) + n);
}

function p95(buckets: ReadonlyMap<number, number>, count: number): number | undefined {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const seconds = bucketQuantile(
    sorted.map(([bound]) => bound),
    sorted.map(([, cumulative]) => cumulative),
    count,
    0.95,
  );
  return seconds === undefined ? undefined : seconds * 1000;
}

/** An instance to scrape: `vessel-1` at `127.0.0.1:45803`. */
export interface ScrapeTarget {
  readonly instance: string;
  readonly address: string;
  readonly measuredAt: MeasuredAt;
}

/** Scrapes the instances and keeps each one's last scrape, for the next window. */
export class MetricsView {
  #last = new Map<string, Scrape>();

  /** Each target waits at most 2 s; `signal` (the dashboard closing) ends them all at once. */
  async scrape(targets: readonly ScrapeTarget[], signal?: AbortSignal): Promise<MethodMetrics[]> {
    const scraped = await Promise.all(
      targets.map(async (target) => {
        const timeout = AbortSignal.timeout(2000);
        const text = await fetch(`http://${target.address}/metrics`, {
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        })
          .then((response) => (response.ok ? response.text() : undefined))
          .catch(() => undefined);
        return { target, text, atMs: Date.now() };
      }),
    );
    const last = new Map<string, Scrape>();
    const instances: InstanceScrapes[] = [];
    for (const { target, text, atMs } of scraped) {
      // Not answering this time: its previous scrape stays the start of its next window.
      if (text === undefined) {
        const kept = this.#last.get(target.instance);
        if (kept) last.set(target.instance, kept);
        continue;
      }
      const current = { atMs, samples: parseRpcMetrics(text) };
      instances.push({ measuredAt: target.measuredAt, previous: this.#last.get(target.instance), current });
      last.set(target.instance, current);
    }
    // Only the instances running now: a stopped one's last scrape goes with it.
    this.#last = last;
    return methodMetrics(instances);
  }
}
