/**
 * A CLIENT span per query of the pools createPool makes, with `@opentelemetry/api`
 * only (the process entry registers the SDK; without one nothing of OpenTelemetry
 * is loaded: ../telemetry/opentelemetry-api.ts):
 *
 *   name  `<first SQL keyword> <database>`, e.g. `INSERT shippy`
 *   db.system.name postgresql · db.namespace <database> · db.operation.name INSERT
 *   db.query.text  the SQL text as written, with its `$1` placeholders: parameter
 *                  values are never recorded (a query that splices values into its
 *                  text would show them: pass them as parameters)
 *   server.address, server.port · on failure status ERROR, db.response.status_code
 *                  (the SQLSTATE) and error.type, never the server's message,
 *                  which can quote a value
 *
 * By default only queries inside a trace (an active span: a request, an event
 * handler) get one: a poller's queries (the outbox relay claims rows every second)
 * would otherwise each be a trace of their own. `traceRootQueries` traces them too.
 *
 * Why not @opentelemetry/instrumentation-pg: it patches `pg` through module-load
 * hooks (require-in-the-middle / import-in-the-middle), which for ESM need a loader
 * registered with `node --import` before `pg` loads; berth's services are ESM run as
 * `node main.ts` without one, and every query already passes through berth's own
 * pool class (berth-pool.ts), where one wrapper does it.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import { ConnectError, codeName } from '../errors/berth-error.ts';
import { type OpenTelemetryApi, openTelemetry } from '../telemetry/opentelemetry-api.ts';
import type { Callback } from './database-errors.ts';
import { databaseEndpoint } from './database-url.ts';

export interface QueryTracing {
  /** Attributes every span of this pool has: system, database, server. */
  readonly attributes: Attributes;
  readonly database: string | undefined;
  readonly traceRootQueries: boolean;
}

/** What the spans of a pool connected to `url` say about where it points. */
export function queryTracing(url: string, traceRootQueries: boolean): QueryTracing {
  const endpoint = databaseEndpoint(url);
  const attributes: Attributes = { 'db.system.name': 'postgresql' };
  if (endpoint) {
    if (endpoint.database !== undefined) attributes['db.namespace'] = endpoint.database;
    attributes['server.address'] = endpoint.host;
    attributes['server.port'] = endpoint.port;
  }
  return { attributes, database: endpoint?.database, traceRootQueries };
}

/** The first keyword of `sql` in capitals, past comments and whitespace: `SELECT`, `WITH`, `BEGIN`. */
export function operationName(sql: string): string | undefined {
  // A scan, not one regex: a lazy comment pattern inside a repeated group backtracks
  // exponentially on runs of `/**/`. An unterminated `/*` hides what follows, as in SQL.
  let at = 0;
  while (at < sql.length) {
    if (/\s/.test(sql[at]!)) at += 1;
    else if (sql.startsWith('--', at)) {
      const newline = sql.indexOf('\n', at + 2);
      at = newline === -1 ? sql.length : newline + 1;
    } else if (sql.startsWith('/*', at)) {
      const close = sql.indexOf('*/', at + 2);
      if (close === -1) return undefined;
      at = close + 2;
    } else break;
  }
  return /^[A-Za-z]+/.exec(sql.slice(at))?.[0].toUpperCase();
}

/** Context key set while a pool's own query runs: its span covers the wait for a connection, so the pooled client's query adds none. */
let inPoolQuery: symbol | undefined;
const poolQueryKey = (api: OpenTelemetryApi) =>
  (inPoolQuery ??= api.createContextKey('berth.store.pool-query'));

/**
 * Runs `run(...args)`, one `Pool.query` call, in a CLIENT span child of the active
 * span, from the wait for a free connection to the answer: a query that could not
 * even get a connection shows too.
 */
// biome-ignore lint/suspicious/noExplicitAny: see Callback
export function tracedPoolQuery(tracing: QueryTracing, args: any[], run: (...args: any[]) => any): any {
  const api = isSubmittable(args) ? undefined : openTelemetry();
  if (api === undefined) return run(...args);
  if (api instanceof Promise) return afterLoading(api, args, () => tracedPoolQuery(tracing, args, run));
  const span = startQuerySpan(api, tracing, args);
  if (span === undefined) return run(...args);
  const marked = api.context.active().setValue(poolQueryKey(api), true);
  return endWhenAnswered(api, span, args, (...given) => api.context.with(marked, () => run(...given)));
}

/** Runs `run(...args)`, one `Client.query` call on a lent client, in a CLIENT span child of the active span. */
// biome-ignore lint/suspicious/noExplicitAny: see Callback
export function tracedClientQuery(tracing: QueryTracing, args: any[], run: (...args: any[]) => any): any {
  const api = isSubmittable(args) ? undefined : openTelemetry();
  if (api === undefined) return run(...args);
  if (api instanceof Promise) return afterLoading(api, args, () => tracedClientQuery(tracing, args, run));
  if (api.context.active().getValue(poolQueryKey(api))) return run(...args);
  const span = startQuerySpan(api, tracing, args);
  return span === undefined ? run(...args) : endWhenAnswered(api, span, args, run);
}

/** Cursors and streams (pg submittables) answer through events of their own: not traced. */
// biome-ignore lint/suspicious/noExplicitAny: see Callback
function isSubmittable(args: any[]): boolean {
  return typeof args[0]?.submit === 'function';
}

/**
 * The first query after OpenTelemetry was registered waits for the API to load, then
 * runs traced (`retry`), answering as pg would: through the callback, or the promise.
 */
// biome-ignore lint/suspicious/noExplicitAny: see Callback
function afterLoading(loading: Promise<unknown>, args: any[], retry: () => any): any {
  const last = args.length - 1;
  if (typeof args[last] !== 'function') return loading.then(retry);
  const callback = args[last] as Callback;
  loading.then(retry, (error: unknown) => callback(error));
  return undefined;
}

/** The span for the query in `args`, or undefined when it gets none: outside a trace, unless `traceRootQueries`. */
// biome-ignore lint/suspicious/noExplicitAny: see Callback
function startQuerySpan(api: OpenTelemetryApi, tracing: QueryTracing, args: any[]): Span | undefined {
  const parent = api.context.active();
  if (!tracing.traceRootQueries && api.trace.getSpan(parent) === undefined) return undefined;
  const query = args[0] as string | { text?: unknown } | undefined;
  const text = typeof query === 'string' ? query : typeof query?.text === 'string' ? query.text : '';
  const operation = operationName(text);
  const attributes: Attributes = { ...tracing.attributes, 'db.query.text': text };
  if (operation !== undefined) attributes['db.operation.name'] = operation;
  const name = [operation, tracing.database].filter(Boolean).join(' ') || 'postgresql';
  // Looked up per span, not kept: a tracer provider registered later (or again) gets it.
  return api.trace
    .getTracer('berth/store')
    .startSpan(name, { kind: api.SpanKind.CLIENT, attributes }, parent);
}

/**
 * Calls `run(...args)` and ends `span` when it answers, through a callback (the last
 * argument) or the promise, or at once when pg throws (a null query, a closed client).
 */
// biome-ignore lint/suspicious/noExplicitAny: see Callback
function endWhenAnswered(api: OpenTelemetryApi, span: Span, args: any[], run: (...args: any[]) => any): any {
  try {
    return answered(api, span, args, run);
  } catch (error) {
    // Unless a callback pg called at once threw, after its span ended.
    if (span.isRecording()) end(api, span, error);
    throw error;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: see Callback
function answered(api: OpenTelemetryApi, span: Span, args: any[], run: (...args: any[]) => any): any {
  const last = args.length - 1;
  if (typeof args[last] === 'function') {
    const callback = args[last] as Callback;
    args[last] = (error: unknown, ...results: unknown[]) => {
      end(api, span, error);
      callback(error, ...results);
    };
    return run(...args);
  }
  return (run(...args) as Promise<unknown>).then(
    (result) => {
      end(api, span, undefined);
      return result;
    },
    (error: unknown) => {
      end(api, span, error);
      throw error;
    },
  );
}

/** Ends `span`, failed when `error` is set: with what names the failure, never the server's message. */
function end(api: OpenTelemetryApi, span: Span, error: unknown): void {
  if (error) {
    const sqlState = (error as { code?: unknown }).code;
    if (typeof sqlState === 'string' && /^[0-9A-Z]{5}$/.test(sqlState)) {
      span.setAttributes({ 'db.response.status_code': sqlState, 'error.type': sqlState });
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: `SQLSTATE ${sqlState}` });
    } else if (error instanceof ConnectError) {
      // berth's own words (database unavailable: <reason> (<host:port>)), which hold nothing secret.
      span.setAttribute('error.type', codeName(error.code));
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.rawMessage });
    } else {
      span.setAttribute('error.type', error instanceof Error ? error.name : typeof error);
      span.setStatus({ code: api.SpanStatusCode.ERROR });
    }
  }
  span.end();
}
