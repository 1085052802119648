/**
 * The dashboard of `berth run`: one HTTP server in the runner's process, on
 * 127.0.0.1 only, behind a token (access-token.ts). Reference: docs/dashboard.md.
 *
 *   GET  /                      the app (assets/: one HTML page, ES modules, one stylesheet; no token needed)
 *   POST /v1/traces             OTLP/HTTP, protobuf or JSON, gzip or not, from the services (their OTEL_EXPORTER_OTLP_*) and any other process
 *   POST /v1/logs               the same for log records, from any process that exports its logs (otlp-receiver.ts)
 *   POST /v1/metrics            the same for metrics (otlp-metric-store.ts)
 *   HTTP/2 (h2c)                OTLP/gRPC: TraceService/Export, LogsService/Export, MetricsService/Export (otlp-grpc.ts)
 *   GET  /api/overview          system, where traces go, how many spans are kept
 *   GET  /api/resources         every process with its state, and each one's /readyz detail; the broker
 *   POST /api/resources/<stop|start|restart>  {"services": [...]}: services, `gateway`, `postgres`; the runner does it
 *   GET  /api/logs?after=&service=&level=&text=&trace=
 *   GET  /api/traces?service=&errors=1&attr=key=value&limit=   GET /api/traces/<trace id>
 *   GET  /api/metrics           per service and method over the last two scrapes of each instance's and the gateway's /metrics (metrics-scraper.ts: every 5 s while the dashboard runs)
 *   GET  /api/metrics/history?service=&method=&at=   those rows kept over time, one point per scrape
 *   GET  /api/otlp-metrics?service=   the series apps export over OTLP, each with its latest point
 *   GET  /api/otlp-metrics/series?id=  one of them with its points (otlp-metrics-api.ts)
 *   GET  /api/services          methods from each service's /descriptors
 *   POST /api/call              {service, method, request, token?} through the gateway's /rpc
 *   POST /api/stream            {service, method, request | requests, token?} a streaming method, through its Connect pass-through;
 *                               answered as NDJSON: {message} per message as it arrives, then {end} (api-explorer.ts)
 *   GET  /api/events            outboxes by topic, parked events
 *   POST /api/events/retry      {database, schema, id}
 *
 * No CORS and no cookie: a page from elsewhere can neither read an answer nor send
 * the token (the page keeps it in sessionStorage), and a request whose Origin or
 * Host is not the dashboard's is refused (DNS rebinding). Bodies are bounded; bad JSON is a 400 naming the problem.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createDualProtocolServer, type DualProtocolServer } from '../service/dual-protocol-server.ts';
import { closeAfterAnswer } from '../service/unread-requests.ts';
import { type DashboardTokens, hasAccess, newTokens } from './access-token.ts';
import { ApiExplorer, callRequestOf, streamRequestOf } from './api-explorer.ts';
import { attributeFiltersOf } from './attribute-filter.ts';
import { brokerResource, type DashboardBroker } from './broker-resource.ts';
import { EventsView } from './events-view.ts';
import { HttpError, mediaTypeOf, readJson, send, sendJson, sendNdjson, servicesOf } from './http-io.ts';
import { LogBuffer } from './log-buffer.ts';
import { historyQueryOf } from './metrics-history.ts';
import { MetricsScraper } from './metrics-scraper.ts';
import type { ScrapeTarget } from './metrics-view.ts';
import { otlpGrpcHandler } from './otlp-grpc.ts';
import { OtlpMetricStore } from './otlp-metric-store.ts';
import { otlpMetricsAnswer } from './otlp-metrics-api.ts';
import { otlpPaths, receiveOtlp } from './otlp-receiver.ts';
import { otlpStatusAnswer } from './otlp-status.ts';
import { SpanStore, type SpanStoreLimits } from './span-store.ts';
import type { StreamLimits } from './stream-call.ts';

/** A process as the dashboard reads it; the Resources page shows whatever else it holds (pid, uptime, restarts). */
export interface DashboardProcess {
  /** `vessel-1`, `gateway`, `postgres`. */
  readonly instance: string;
  readonly service: string;
  readonly kind: 'postgres' | 'gateway' | 'service';
  /** `host:port` once ready. */
  readonly address: string | undefined;
  readonly status: string;
}

/** What the dashboard asks of the runner (src/runner/run-dashboard.ts gives it). */
export interface DashboardRuntime {
  readonly system: string;
  readonly environment: string;
  processes(): readonly DashboardProcess[];
  /**
   * Units by name: a service (every instance), `gateway`, `postgres`. Reject with
   * HttpError 400 when the request is at fault (an unknown name, the broker).
   */
  stop(names: readonly string[]): Promise<void>;
  start(names: readonly string[]): Promise<void>;
  /** `http://127.0.0.1:<port>` of the gateway, when it runs. */
  gateway(): string | undefined;
  /** Each database of the run by a name to show (`embedded`, `vessel`), with its URL (a secret). */
  databases(): ReadonlyMap<string, string>;
  /** The services' broker: the user's NATS server, or the direct one (no process). */
  broker(): DashboardBroker;
}

export interface DashboardOptions {
  readonly runtime: DashboardRuntime;
  /** 0 or omitted: any free port. */
  readonly port?: number;
  /** The user's own OTLP endpoint: the services send their traces there, not here. */
  readonly tracesElsewhere?: string;
  readonly spanLimits?: Partial<SpanStoreLimits>;
  /** Largest request body; default 4 MiB (an OTLP batch of 512 spans is well under 1 MiB). */
  readonly bodyLimitBytes?: number;
  readonly logLines?: number;
  /** What the API explorer keeps of a streaming call's answer; stream-call.ts has the defaults. */
  readonly streamLimits?: StreamLimits;
  /** How often the dashboard scrapes every instance's and the gateway's /metrics; default 5 s (metrics-scraper.ts). */
  readonly metricsScrapeIntervalMs?: number;
}

const assetsDir = join(import.meta.dirname, 'assets');
const modules = [
  'app',
  'dom',
  'span-tree',
  'line-chart',
  'page-api',
  'page-events',
  'page-logs',
  'page-metrics',
  'page-otlp-metrics',
  'page-resources',
  'page-traces',
];
const assets: Record<string, string> = {
  '/': 'index.html',
  '/style.css': 'style.css',
  ...Object.fromEntries(modules.map((name) => [`/${name}.js`, `${name}.js`])),
};
const contentTypes: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

export class Dashboard {
  readonly #tokens: DashboardTokens = newTokens();
  readonly spans: SpanStore;
  readonly logs: LogBuffer;
  /** What apps export to POST /v1/metrics and MetricsService/Export (not the RPC metrics the dashboard scrapes). */
  readonly otlpMetrics = new OtlpMetricStore();
  /** `http://127.0.0.1:<port>`, once started. */
  url = '';
  readonly #options: DashboardOptions;
  readonly #server: DualProtocolServer;
  readonly #metrics: MetricsScraper;
  readonly #explorer: ApiExplorer;
  #events: EventsView | undefined;

  private constructor(options: DashboardOptions) {
    this.#options = options;
    this.#explorer = new ApiExplorer(options.streamLimits);
    this.spans = new SpanStore(options.spanLimits);
    this.logs = new LogBuffer(options.logLines);
    this.#metrics = new MetricsScraper(() => this.#scrapeTargets(), options.metricsScrapeIntervalMs);
    this.#server = createDualProtocolServer(
      (req, res) => {
        this.#handle(req, res).catch((error: unknown) => this.#fail(req, res, error));
      },
      otlpGrpcHandler({ sinks: this, ingestToken: this.#tokens.ingest, limitBytes: this.#bodyLimit }),
      undefined,
      { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 },
    );
  }

  static async start(options: DashboardOptions): Promise<Dashboard> {
    const dashboard = new Dashboard(options);
    const { port } = await dashboard.#server.listen(options.port ?? 0, '127.0.0.1').catch((error: Error) => {
      throw new Error(`cannot listen on 127.0.0.1:${options.port ?? 0} for the dashboard: ${error.message}`);
    });
    dashboard.url = `http://127.0.0.1:${port}`;
    dashboard.#metrics.start();
    return dashboard;
  }

  /** What the page and scripts send as `Authorization: Bearer` (state.json keeps it). */
  get token(): string {
    return this.#tokens.page;
  }

  /** What the services' exporters send to POST /v1/traces (and other processes to /v1/logs); it opens nothing else. */
  get ingestToken(): string {
    return this.#tokens.ingest;
  }

  /** The URL to open: the page token in its fragment, which the browser never sends to a server. */
  get pageUrl(): string {
    return `${this.url}/#t=${this.token}`;
  }

  async close(): Promise<void> {
    await this.#metrics.close();
    this.#server.stopAccepting();
    await this.#server.drain(0);
    await this.#events?.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Appended, not resolved: a path like `//evil.example/` stays a path on this server.
    const url = new URL(`${this.url}${req.url ?? '/'}`);
    const host = new URL(this.url).host;
    if (req.headers.host !== host && req.headers.host !== host.replace('127.0.0.1', 'localhost')) {
      throw new HttpError(
        421,
        `this is the dashboard at ${this.url}; the request named host "${req.headers.host}"`,
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.url && origin !== `http://${req.headers.host}`) {
      throw new HttpError(403, `requests from ${origin} are not accepted (no CORS)`);
    }
    const path = url.pathname;
    // The page itself holds no secret: only the API and the receiver need a token.
    if (req.method === 'GET' && Object.hasOwn(assets, path)) return this.#asset(res, assets[path]!);
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!hasAccess(req, path, this.#tokens)) {
      throw new HttpError(
        401,
        otlpPaths.includes(path)
          ? "missing or wrong ingest token: berth run gives it to its children's OTEL_EXPORTER_OTLP_TRACES_HEADERS " +
              '(the same header opens /v1/logs and /v1/metrics: OTEL_EXPORTER_OTLP_LOGS_HEADERS, OTEL_EXPORTER_OTLP_METRICS_HEADERS)'
          : 'missing or wrong dashboard token: open the "dashboard" URL that berth run printed when the system was ready ' +
              '(http://127.0.0.1:PORT/#t=TOKEN), or send Authorization: Bearer <token> (state.json: dashboard.token)',
      );
    }
    if (otlpPaths.includes(path)) return receiveOtlp(req, res, path, this, this.#bodyLimit);
    if (path.startsWith('/api/')) return this.#api(req, res, url);
    throw new HttpError(404, `no such page: ${path}`);
  }

  get #bodyLimit(): number {
    return this.#options.bodyLimitBytes ?? 4 * 1024 * 1024;
  }

  async #api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const runtime = this.#options.runtime;
    const route = `${req.method} ${url.pathname}`;
    const query = (name: string) => url.searchParams.get(name) || undefined;
    switch (route) {
      case 'GET /api/overview':
        return sendJson(res, 200, {
          system: runtime.system,
          environment: runtime.environment,
          gateway: runtime.gateway(),
          tracesElsewhere: this.#options.tracesElsewhere,
          spans: this.spans.spanCount,
        });
      case 'GET /api/resources':
        return sendJson(res, 200, {
          processes: [...(await withReadiness(runtime.processes())), await brokerResource(runtime.broker())],
        });
      case 'POST /api/resources/stop':
      case 'POST /api/resources/start':
      case 'POST /api/resources/restart': {
        const services = servicesOf(await readJson(req, res, this.#bodyLimit));
        const action = url.pathname.slice('/api/resources/'.length);
        if (action !== 'start') await runtime.stop(services);
        if (action !== 'stop') await runtime.start(services);
        return sendJson(res, 200, { ok: true });
      }
      case 'GET /api/logs': {
        const after = Number(query('after') ?? 0);
        const lines = this.logs.query({
          after: Number.isFinite(after) ? after : 0,
          service: query('service'),
          level: query('level'),
          text: query('text'),
          traceId: query('trace'),
        });
        return sendJson(res, 200, { last: this.logs.lastSeq, lines });
      }
      case 'GET /api/traces': {
        const limit = Math.min(1000, Math.max(1, Number(query('limit') ?? 100) || 100));
        const traces = this.spans.list({
          service: query('service'),
          errors: query('errors') === '1',
          attributes: attributeFiltersOf(url.searchParams.getAll('attr')),
          limit,
        });
        return sendJson(res, 200, { traces, tracesElsewhere: this.#options.tracesElsewhere });
      }
      case 'GET /api/metrics':
        return sendJson(res, 200, this.#metrics.latest);
      case 'GET /api/metrics/history':
        return sendJson(res, 200, this.#metrics.history.query(historyQueryOf(url.searchParams)));
      case 'GET /api/services':
        return sendJson(res, 200, {
          services: await this.#explorer.services(
            new Map(this.#ready('service').map((p) => [p.service, p.address!])),
          ),
        });
      case 'POST /api/call': {
        const call = callRequestOf(await readJson(req, res, this.#bodyLimit));
        const gateway = runtime.gateway();
        if (!gateway) throw new HttpError(503, 'the gateway is not running');
        return sendJson(res, 200, await this.#explorer.call(gateway, call));
      }
      case 'POST /api/stream': {
        const call = streamRequestOf(await readJson(req, res, this.#bodyLimit));
        const gateway = runtime.gateway();
        if (!gateway) throw new HttpError(503, 'the gateway is not running');
        // The browser stopped the call or went away: the call to the service is cancelled.
        const gone = new AbortController();
        res.once('close', () => gone.abort());
        return sendNdjson(res, this.#explorer.stream(gateway, call, gone.signal));
      }
      case 'GET /api/events':
        return sendJson(res, 200, await this.#eventsView().snapshot());
      case 'POST /api/events/retry': {
        const body = (await readJson(req, res, this.#bodyLimit)) as Record<string, unknown> | null;
        const { database, schema, id } = body ?? {};
        if (typeof database !== 'string' || typeof schema !== 'string' || typeof id !== 'string') {
          throw new HttpError(400, 'expected {"database": "...", "schema": "...", "id": "..."}');
        }
        await this.#eventsView().retry(database, schema, id);
        return sendJson(res, 200, { ok: true });
      }
    }
    const otlpMetrics =
      req.method === 'GET' && otlpMetricsAnswer(this.otlpMetrics, url.pathname, url.searchParams);
    if (otlpMetrics) return sendJson(res, 200, otlpMetrics);
    const trace = /^GET \/api\/traces\/([0-9a-fA-F]{32})$/.exec(route);
    if (trace) {
      const spans = this.spans.trace(trace[1]!);
      if (!spans) throw new HttpError(404, `trace ${trace[1]} is not (or no longer) kept here`);
      return sendJson(res, 200, { traceId: trace[1]!.toLowerCase(), spans });
    }
    throw new HttpError(404, `no such API: ${route}`);
  }

  #ready(kind: DashboardProcess['kind']): DashboardProcess[] {
    return this.#options.runtime
      .processes()
      .filter((p) => p.kind === kind && p.status === 'ready' && p.address !== undefined);
  }

  #scrapeTargets(): ScrapeTarget[] {
    return [...this.#ready('gateway'), ...this.#ready('service')].map((p) => ({
      instance: p.instance,
      address: p.address!,
      measuredAt: p.kind === 'gateway' ? 'gateway' : 'service',
    }));
  }

  #eventsView(): EventsView {
    this.#events ??= new EventsView(this.#options.runtime.databases());
    return this.#events;
  }

  async #asset(res: ServerResponse, name: string): Promise<void> {
    const body = await readFile(join(assetsDir, name));
    send(res, 200, contentTypes[name.split('.').pop()!]!, body);
  }

  #fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    // Half an answer, or a client already gone (its body cut short): nothing more to say.
    if (res.headersSent || !req.socket || req.socket.destroyed) {
      res.destroy();
      return;
    }
    const status = error instanceof HttpError ? error.status : 500;
    const message = error instanceof Error ? error.message : String(error);
    // Whatever is left of a refused body is not read: close the connection (gently) after answering.
    if (!req.complete) closeAfterAnswer(req, res);
    const path = req.url ?? '';
    if (path.startsWith('/v1/')) {
      const { contentType, body } = otlpStatusAnswer(mediaTypeOf(req), status, message);
      send(res, status, contentType, body);
    } else if (path.startsWith('/api/')) sendJson(res, status, { error: message });
    else send(res, status, 'text/plain; charset=utf-8', `${message}\n`);
  }
}

/** Each ready gateway and service instance with what its /readyz says (checks and their detail). */
async function withReadiness(processes: readonly DashboardProcess[]): Promise<unknown[]> {
  return Promise.all(
    processes.map(async (process) => {
      if (process.kind === 'postgres' || process.status !== 'ready' || !process.address) return process;
      const readiness = await fetch(`http://${process.address}/readyz`, { signal: AbortSignal.timeout(2000) })
        .then((response) => response.json())
        .catch((error: Error) => ({ ready: false, error: error.message }));
      return { ...process, readiness };
    }),
  );
}
