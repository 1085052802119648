/**
 * The metrics apps export to the dashboard over OTLP (POST /v1/metrics,
 * MetricsService/Export), kept as series: one per service, metric name,
 * attribute set (and kind), each with its latest point and a short history for a chart.
 *
 * A point's numbers are the same for either temporality: a delta Sum, Histogram or
 * ExponentialHistogram is added up from the first point the dashboard received,
 * so its value, count and sum are totals, as a cumulative one's are. A Histogram's
 * p95 is over the interval the point covers (a cumulative one's bucket counts less
 * the point before's; all of them after a restart), the upper bound of the bucket
 * that holds it, as the RPC metrics' p95 (metrics-view.ts).
 *
 * Bounded whatever the apps send: points older than `maxAgeMs` go (and a series
 * left without one), each series keeps its last `maxPoints`, and at most
 * `maxSeries` are kept; a new series past that is not kept but counted (in
 * `seriesOverCap`, over the same window), so a flood of attribute values cannot
 * push out the series already shown. A point no newer than its series' latest (an
 * export retried) is not added again.
 */
import { bucketQuantile } from './bucket-quantile.ts';
import type { MetricIdentity, MetricPoint } from './otlp-metric-points.ts';

export interface OtlpMetricLimits {
  readonly maxAgeMs: number;
  readonly maxPoints: number;
  readonly maxSeries: number;
}

/** 15 minutes at an SDK's usual export every 5 to 60 s; 500 series of 180 points is a few MB at most. */
export const DEFAULT_OTLP_METRIC_LIMITS: OtlpMetricLimits = {
  maxAgeMs: 15 * 60_000,
  maxPoints: 180,
  maxSeries: 500,
};

/** At most this many series over the cap are counted: past it the count says "at least". */
const maxCountedOverCap = 10_000;

/** A series' numbers at one time: `value` for a Sum or a Gauge, the rest for the histograms and a Summary. */
export interface SeriesPoint {
  readonly timeMs: number;
  readonly value?: number;
  readonly count?: number;
  readonly sum?: number;
  /** Histogram: undefined when the interval counted nothing, or its p95 is past the last bound and no max was sent. */
  readonly p95?: number;
}

export interface SeriesSummary extends MetricIdentity {
  /** What GET /api/otlp-metrics/series?id= takes. */
  readonly id: number;
  readonly latest: SeriesPoint;
}

export interface OtlpSeries extends SeriesSummary {
  /** Oldest first; the latest is the last. */
  readonly points: readonly SeriesPoint[];
}

export interface OtlpMetricsAnswer extends OtlpMetricLimits {
  /** Series received in the last `maxAgeMs` that are not kept: over `maxSeries`. */
  readonly seriesOverCap: number;
  readonly series: SeriesSummary[];
}

interface StoredSeries {
  summary: SeriesSummary;
  readonly points: SeriesPoint[];
  /** The last point as received: what the next cumulative one is measured against. */
  last: MetricPoint;
  /** A delta series' totals so far. */
  totals: { value: number; count: number; sum: number };
}

export class OtlpMetricStore {
  readonly #limits: OtlpMetricLimits;
  /** By service, name and attributes. */
  readonly #series = new Map<string, StoredSeries>();
  readonly #byId = new Map<number, StoredSeries>();
  /** Series not kept, by key, with when one of their points last came. */
  readonly #overCap = new Map<string, number>();
  #nextId = 1;
  readonly #now: () => number;

  /** `now`: the clock the age of points is measured by (a test's own). */
  constructor(limits: Partial<OtlpMetricLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_OTLP_METRIC_LIMITS, ...limits };
    this.#now = now;
  }

  add(points: readonly MetricPoint[]): void {
    const nowMs = this.#now();
    const oldestMs = this.#forget();
    for (const point of points) {
      if (point.timeMs < oldestMs) continue;
      // The kind too: a metric re-registered as another kind is another series, not a mix of both.
      const key = JSON.stringify([
        point.service,
        point.name,
        Object.entries(point.attributes).sort(),
        point.kind,
      ]);
      const known = this.#series.get(key);
      if (known) this.#append(known, point);
      else if (this.#series.size < this.#limits.maxSeries) this.#create(key, point);
      else if (this.#overCap.has(key) || this.#overCap.size < maxCountedOverCap)
        this.#overCap.set(key, nowMs);
    }
  }

  /** The kept series (of one service, given one), by service, name and attributes. */
  list(service?: string): OtlpMetricsAnswer {
    this.#forget();
    const series = [...this.#series.entries()]
      .filter(([, s]) => service === undefined || s.summary.service === service)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, s]) => s.summary);
    return { ...this.#limits, seriesOverCap: this.#overCap.size, series };
  }

  /** One series with its points; undefined when it is not (or no longer) kept. */
  series(id: number): OtlpSeries | undefined {
    this.#forget();
    const stored = this.#byId.get(id);
    return stored && { ...stored.summary, points: [...stored.points] };
  }

  #create(key: string, point: MetricPoint): void {
    const id = this.#nextId++;
    const first = seriesPoint(point, undefined, { value: 0, count: 0, sum: 0 });
    const { service, name, unit, description, kind, temporality, monotonic, attributes } = point;
    const stored: StoredSeries = {
      summary: {
        id,
        service,
        name,
        unit,
        description,
        kind,
        temporality,
        monotonic,
        attributes,
        latest: first.point,
      },
      points: [first.point],
      last: point,
      totals: first.totals,
    };
    this.#series.set(key, stored);
    this.#byId.set(id, stored);
  }

  #append(stored: StoredSeries, point: MetricPoint): void {
    if (point.timeMs <= stored.summary.latest.timeMs) return;
    const next = seriesPoint(point, stored.last, stored.totals);
    stored.points.push(next.point);
    if (stored.points.length > this.#limits.maxPoints) stored.points.shift();
    stored.last = point;
    stored.totals = next.totals;
    // The unit and description as the app last sent them.
    stored.summary = {
      ...stored.summary,
      unit: point.unit,
      description: point.description,
      latest: next.point,
    };
  }

  /**
   * Drops points (and series left without one) older than `maxAgeMs`, and stops
   * counting the series over the cap not seen since; answers the oldest time kept.
   */
  #forget(): number {
    const oldestMs = this.#now() - this.#limits.maxAgeMs;
    for (const [key, stored] of this.#series) {
      const keep = stored.points.findIndex((point) => point.timeMs >= oldestMs);
      if (keep !== -1) {
        stored.points.splice(0, keep);
        continue;
      }
      this.#series.delete(key);
      this.#byId.delete(stored.summary.id);
    }
    for (const [key, seenMs] of this.#overCap) if (seenMs < oldestMs) this.#overCap.delete(key);
    return oldestMs;
  }
}

type Totals = StoredSeries['totals'];

/** The point as the series shows it, and the delta totals after it. */
function seriesPoint(point: MetricPoint, before: MetricPoint | undefined, totals: Totals) {
  const delta = point.temporality === 'delta';
  const next: Totals = delta
    ? {
        value: totals.value + (point.value ?? 0),
        count: totals.count + (point.count ?? 0),
        sum: totals.sum + (point.sum ?? 0),
      }
    : totals;
  const shown = (own: number | undefined, total: number) =>
    own === undefined ? undefined : delta ? total : own;
  const p95 = point.kind === 'histogram' ? histogramP95(point, delta ? undefined : before) : undefined;
  return {
    point: {
      timeMs: point.timeMs,
      value: shown(point.value, next.value),
      count: shown(point.count, next.count),
      sum: shown(point.sum, next.sum),
      p95,
    },
    totals: next,
  };
}

/**
 * The p95 of what `point` counted since `before` (a cumulative histogram's point
 * before), or of all it counted: without one, after a restart (another start time,
 * a count gone back) or with other bounds.
 */
function histogramP95(point: MetricPoint, before: MetricPoint | undefined): number | undefined {
  const bounds = point.bounds ?? [];
  let counts = point.bucketCounts ?? [];
  let count = point.count ?? 0;
  const sameRun =
    before !== undefined &&
    before.startMs === point.startMs &&
    (before.count ?? 0) <= count &&
    before.bounds?.join() === bounds.join() &&
    before.bucketCounts?.length === counts.length;
  if (sameRun) {
    counts = counts.map((n, i) => n - (before.bucketCounts![i] ?? 0));
    count -= before.count ?? 0;
  }
  let running = 0;
  const cumulative = counts.map((n) => (running += n));
  // Past the last explicit bound, the largest value measured, when the SDK sent it.
  return bucketQuantile([...bounds, point.max ?? Number.POSITIVE_INFINITY], cumulative, count, 0.95);
}
