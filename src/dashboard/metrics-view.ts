/**
 * The Metrics page: requests/s, error rate and latency per service and method,
 * from what each instance already exposes at `/metrics` (src/metrics/metrics.ts:
 * `berth_rpc_requests_total` and the `berth_rpc_duration_seconds` histogram, by
 * service, method and code). Rates are the difference between this scrape and the
 * previous one the dashboard made (the page polls); the first scrape shows totals.
 */

export interface MethodMetrics {
  readonly service: string;
  readonly method: string;
  readonly requests: number;
  readonly errors: number;
  /** Since the previous scrape; undefined on the first. */
  readonly requestsPerSecond: number | undefined;
  readonly errorRate: number;
  readonly meanMs: number | undefined;
  /** From the histogram's buckets: the upper bound of the bucket holding the 95th percentile. */
  readonly p95Ms: number | undefined;
}

interface Sample {
  requests: number;
  errors: number;
  sumSeconds: number;
  count: number;
  /** Cumulative counts by bucket bound (seconds). */
  readonly buckets: Map<number, number>;
}

const line = /^([a-z_]+)\{([^}]*)\}\s+(\S+)/;
const label = /([a-z_]+)="((?:[^"\\]|\\.)*)"/g;

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
      sample = { requests: 0, errors: 0, sumSeconds: 0, count: 0, buckets: new Map() };
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
        sample.buckets.set(bound, (sample.buckets.get(bound) ?? 0) + value);
        break;
      }
    }
  }
  return samples;
}

function p95(buckets: Map<number, number>, count: number): number | undefined {
  if (count === 0) return undefined;
  for (const [bound, cumulative] of [...buckets].sort((a, b) => a[0] - b[0])) {
    if (cumulative >= count * 0.95) return Number.isFinite(bound) ? bound * 1000 : undefined;
  }
  return undefined;
}

/** Scrapes instances and keeps the previous scrape, for rates. */
export class MetricsView {
  #previous: { atMs: number; samples: Map<string, Sample> } | undefined;

  /** `addresses`: host:port of every ready service instance. */
  async scrape(addresses: readonly string[]): Promise<MethodMetrics[]> {
    const texts = await Promise.all(
      addresses.map((address) =>
        fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(2000) })
          .then((response) => (response.ok ? response.text() : ''))
          .catch(() => ''),
      ),
    );
    const total = new Map<string, Sample>();
    for (const text of texts) {
      for (const [key, sample] of parseRpcMetrics(text)) {
        const into = total.get(key);
        if (!into) total.set(key, sample);
        else {
          into.requests += sample.requests;
          into.errors += sample.errors;
          into.sumSeconds += sample.sumSeconds;
          into.count += sample.count;
          for (const [bound, n] of sample.buckets)
            into.buckets.set(bound, (into.buckets.get(bound) ?? 0) + n);
        }
      }
    }
    const now = Date.now();
    const previous = this.#previous;
    this.#previous = { atMs: now, samples: total };
    return [...total]
      .map(([key, sample]) => {
        const [service, method] = key.split(' ') as [string, string];
        const before = previous?.samples.get(key);
        const seconds = previous ? (now - previous.atMs) / 1000 : 0;
        return {
          service,
          method,
          requests: sample.requests,
          errors: sample.errors,
          // A restarted instance starts its counters over: no negative rates.
          requestsPerSecond:
            previous && seconds > 0
              ? Math.max(0, sample.requests - (before?.requests ?? 0)) / seconds
              : undefined,
          errorRate: sample.requests === 0 ? 0 : sample.errors / sample.requests,
          meanMs: sample.count === 0 ? undefined : (sample.sumSeconds / sample.count) * 1000,
          p95Ms: p95(sample.buckets, sample.count),
        };
      })
      .sort((a, b) => a.service.localeCompare(b.service) || a.method.localeCompare(b.method));
  }
}
