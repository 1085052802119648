/**
 * The dashboard's own scrape loop: every instance's and the gateway's /metrics,
 * every 5 s from the moment the dashboard starts (with `berth run`) until it
 * closes, whatever page is open or none. Each scrape makes the view's rows
 * (metrics-view.ts) and a point per series of the history (metrics-history.ts);
 * GET /api/metrics answers with the latest, so pages and tabs only read (two tabs
 * no longer halve the windows).
 *
 * One scrape at a time: a tick that finds the last one still running (an instance
 * slow to answer, up to its 2 s) is skipped. An instance that does not answer is
 * left out of that scrape (metrics-view.ts); should the scrape itself fail, the
 * answer says why and the next tick tries again. The timer is unref'd (it never
 * keeps a process alive) and close() stops it and ends a scrape under way.
 */
import { MetricsHistory } from './metrics-history.ts';
import { type MethodMetrics, MetricsView, type ScrapeTarget } from './metrics-view.ts';

/** As often as the page polls. */
export const DEFAULT_SCRAPE_INTERVAL_MS = 5_000;

/** What GET /api/metrics answers. */
export interface LatestScrape {
  /** When the latest scrape ended; undefined before the first. */
  readonly scrapedAtMs: number | undefined;
  readonly scrapeIntervalMs: number;
  readonly methods: readonly MethodMetrics[];
  /** Why the latest scrape failed, when it did: `methods` are then those of the one before. */
  readonly scrapeError?: string;
}

export class MetricsScraper {
  readonly history = new MetricsHistory();
  readonly #view = new MetricsView();
  readonly #targets: () => readonly ScrapeTarget[];
  readonly #intervalMs: number;
  readonly #closing = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #latest: LatestScrape;

  /** `targets` is asked at each scrape: the instances ready then. */
  constructor(targets: () => readonly ScrapeTarget[], intervalMs = DEFAULT_SCRAPE_INTERVAL_MS) {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
      throw new Error(
        `metricsScrapeIntervalMs: expected a positive number of milliseconds, got ${intervalMs}`,
      );
    }
    this.#targets = targets;
    this.#intervalMs = intervalMs;
    this.#latest = { scrapedAtMs: undefined, scrapeIntervalMs: intervalMs, methods: [] };
  }

  get latest(): LatestScrape {
    return this.#latest;
  }

  /** Scrapes now, then at each interval. */
  start(): void {
    this.#timer ??= setInterval(() => this.#tick(), this.#intervalMs).unref();
    this.#tick();
  }

  /** Resolves once no scrape runs, and none will. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#closing.abort();
    await this.#running;
  }

  #tick(): void {
    if (this.#running || this.#closing.signal.aborted) return;
    this.#running = this.#scrape().finally(() => {
      this.#running = undefined;
    });
  }

  async #scrape(): Promise<void> {
    try {
      const methods = await this.#view.scrape(this.#targets(), this.#closing.signal);
      // Closed meanwhile: every answer was cut short, so this scrape measured nothing.
      if (this.#closing.signal.aborted) return;
      const atMs = Date.now();
      this.history.record(atMs, methods);
      this.#latest = { scrapedAtMs: atMs, scrapeIntervalMs: this.#intervalMs, methods };
    } catch (error) {
      this.#latest = { ...this.#latest, scrapeError: error instanceof Error ? error.message : String(error) };
    }
  }
}
