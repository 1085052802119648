/**
 * The Metrics page's charts: the rows metrics-view.ts computes, kept over time,
 * one point per scrape window per series (a service, method and where it was
 * measured). The points are the view's own numbers, so a restarted instance (a
 * counter gone back) is what the view makes of it: its calls since it started,
 * never a negative rate or a spike.
 *
 * Bounded whatever the services do: points older than `maxAgeMs` go, each series
 * keeps its last `maxPoints`, and at most `maxSeries` series are kept. A new
 * series past that cap takes the place of the one measured longest ago; when
 * every kept series was measured in the same scrape, the newcomer is not kept
 * (counted in `seriesOverCap`), so a flood of method names cannot push out the
 * series already charted.
 */
import { HttpError } from './http-io.ts';
import type { MeasuredAt, MethodMetrics } from './metrics-view.ts';

export interface MetricsHistoryLimits {
  readonly maxAgeMs: number;
  readonly maxPoints: number;
  readonly maxSeries: number;
}

/** 15 minutes at the dashboard's one scrape per 5 s (metrics-scraper.ts); 200 series of 180 points is a few MB at most. */
export const DEFAULT_HISTORY_LIMITS: MetricsHistoryLimits = {
  maxAgeMs: 15 * 60_000,
  maxPoints: 180,
  maxSeries: 200,
};

/** One scrape window of one series: its end, its length and what metrics-view measured over it. */
export interface HistoryPoint {
  readonly atMs: number;
  readonly windowSeconds: number;
  readonly requestsPerSecond: number;
  /** Undefined (absent in JSON) without a call in the window, as in the view. */
  readonly errorRate: number | undefined;
  readonly meanMs: number | undefined;
  readonly p95Ms: number | undefined;
}

export interface HistorySeries {
  readonly service: string;
  readonly method: string;
  readonly measuredAt: MeasuredAt;
  /** Oldest first. */
  readonly points: readonly HistoryPoint[];
}

export interface HistoryQuery {
  readonly service?: string;
  readonly method?: string;
  readonly measuredAt?: MeasuredAt;
}

export interface HistoryAnswer extends MetricsHistoryLimits {
  /** Series the last scrape measured that are not kept: over `maxSeries`. */
  readonly seriesOverCap: number;
  readonly series: HistorySeries[];
}

interface StoredSeries {
  readonly service: string;
  readonly method: string;
  readonly measuredAt: MeasuredAt;
  readonly points: HistoryPoint[];
}

export class MetricsHistory {
  readonly #limits: MetricsHistoryLimits;
  /** By `measuredAt service method`. */
  readonly #series = new Map<string, StoredSeries>();
  #seriesOverCap = 0;

  constructor(limits: Partial<MetricsHistoryLimits> = {}) {
    this.#limits = { ...DEFAULT_HISTORY_LIMITS, ...limits };
  }

  /** The rows of one scrape that ended at `atMs`; a row without a window yet (an instance scraped once) has no point. */
  record(atMs: number, rows: readonly MethodMetrics[]): void {
    this.#forget(atMs - this.#limits.maxAgeMs);
    let overCap = 0;
    for (const row of rows) {
      if (row.windowSeconds === undefined || row.requestsPerSecond === undefined) continue;
      const series = this.#seriesFor(row, atMs);
      if (!series) {
        overCap += 1;
        continue;
      }
      insertInOrder(series.points, {
        atMs,
        windowSeconds: row.windowSeconds,
        requestsPerSecond: row.requestsPerSecond,
        errorRate: row.errorRate,
        meanMs: row.meanMs,
        p95Ms: row.p95Ms,
      });
      if (series.points.length > this.#limits.maxPoints) series.points.shift();
    }
    this.#seriesOverCap = overCap;
  }

  /** The kept series that match every field given, ordered as the view's rows. */
  query(query: HistoryQuery = {}): HistoryAnswer {
    const series = [...this.#series.values()]
      .filter(
        (s) =>
          (query.service === undefined || s.service === query.service) &&
          (query.method === undefined || s.method === query.method) &&
          (query.measuredAt === undefined || s.measuredAt === query.measuredAt),
      )
      .sort(
        (a, b) =>
          a.service.localeCompare(b.service) ||
          a.method.localeCompare(b.method) ||
          a.measuredAt.localeCompare(b.measuredAt),
      )
      .map(({ service, method, measuredAt, points }) => ({
        service,
        method,
        measuredAt,
        points: [...points],
      }));
    return { ...this.#limits, seriesOverCap: this.#seriesOverCap, series };
  }

  /** Drops points (and series left without one) from before `oldestMs`. */
  #forget(oldestMs: number): void {
    for (const [key, series] of this.#series) {
      const keep = series.points.findIndex((point) => point.atMs >= oldestMs);
      if (keep === -1) this.#series.delete(key);
      else series.points.splice(0, keep);
    }
  }

  /** The row's series, made room for if new; undefined when it is over the cap. */
  #seriesFor(row: MethodMetrics, atMs: number): StoredSeries | undefined {
    const key = `${row.measuredAt} ${row.service} ${row.method}`;
    const known = this.#series.get(key);
    if (known) return known;
    if (this.#series.size >= this.#limits.maxSeries) {
      const [staleKey, stale] = [...this.#series].reduce((a, b) => (lastAt(b[1]) < lastAt(a[1]) ? b : a));
      if (lastAt(stale) >= atMs) return undefined;
      this.#series.delete(staleKey);
    }
    const series = { service: row.service, method: row.method, measuredAt: row.measuredAt, points: [] };
    this.#series.set(key, series);
    return series;
  }
}

const lastAt = (series: StoredSeries): number => series.points.at(-1)?.atMs ?? Number.NEGATIVE_INFINITY;

/**
 * The scrapes come one at a time, but the wall clock can step back (NTP): a point
 * goes where its time puts it, so a series is always oldest first.
 */
function insertInOrder(points: HistoryPoint[], point: HistoryPoint): void {
  let index = points.length;
  while (index > 0 && points[index - 1]!.atMs > point.atMs) index -= 1;
  points.splice(index, 0, point);
}

const queryNames = ['service', 'method', 'at'];

/** `?service=&method=&at=` of GET /api/metrics/history, each optional; HttpError 400 naming a bad one. */
export function historyQueryOf(params: URLSearchParams): HistoryQuery {
  for (const name of new Set(params.keys())) {
    if (!queryNames.includes(name)) {
      throw new HttpError(
        400,
        `${name}: not a parameter of /api/metrics/history (it takes service, method and at)`,
      );
    }
    const values = params.getAll(name);
    if (values.length > 1) throw new HttpError(400, `${name}: given ${values.length} times, expected once`);
    if (values[0] === '') throw new HttpError(400, `${name}: empty; leave it out to match every ${name}`);
  }
  const at = params.get('at') ?? undefined;
  if (at !== undefined && at !== 'gateway' && at !== 'service') {
    throw new HttpError(400, `at: expected "gateway" or "service", got "${at}"`);
  }
  return {
    service: params.get('service') ?? undefined,
    method: params.get('method') ?? undefined,
    measuredAt: at,
  };
}
