/**
 * What a failed query means to the service's caller, decided once, where the
 * errors come from: the pool `createPool` returns (berth-pool.ts) passes every
 * error of its queries and connections through `databaseError`, so every handler
 * gets the right answer without catching anything.
 *
 *  - The database cannot be reached (refused, reset, lost connection, SQLSTATE
 *    class 08, the server shutting down or starting up, no free connection within
 *    the connect timeout): `unavailable` (503, retryable), "database unavailable:
 *    <reason> (<host:port>)", never the URL's password. Otherwise every call would
 *    be a 500 "internal error" until the database is back.
 *  - A text value with a NUL character (U+0000), which PostgreSQL cannot store in
 *    text or jsonb (SQLSTATE 22021, 22P05): `invalid_argument` (400), the caller's
 *    mistake.
 *  - Anything else is left as pg raised it: a handler may expect its SQLSTATE
 *    (23505 unique violation → "already exists"), and an unexpected one stays an
 *    internal error with its stack in the log.
 */
import { Code, ConnectError } from '../errors/berth-error.ts';
import { databaseEndpoint } from './database-url.ts';

/** Socket errors (Node's `code`) that mean the server is not there, and how the detail says it. */
const unreachable: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  // A headless Kubernetes Service without ready pods has no DNS name at all.
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

/** SQLSTATEs of a server that is there but cannot serve now; class 08 (connection exception) too. */
const serverNotServing = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, or in recovery
  '53300', // too_many_connections
]);

/** What pg and pg-pool raise, without a code, when a connection is lost or cannot be had in time. */
const lostConnection: ReadonlyArray<readonly [RegExp, string]> = [
  [/^Connection terminated due to connection timeout/, 'no answer within the connect timeout'],
  [/^timeout exceeded when trying to connect/, 'no free connection within the connect timeout'],
  [/^Connection terminated/, 'connection lost'],
  [/is not queryable/, 'connection lost'],
];

export const nulDetail = 'a text value contains a NUL character (U+0000), which cannot be stored';

/**
 * The ConnectError that `error` (from pg, talking to `server`, as `host:port`)
 * stands for, or undefined when it is to be left as it is.
 */
export function databaseError(error: unknown, server: string): ConnectError | undefined {
  if (!(error instanceof Error) || error instanceof ConnectError) return undefined;
  const reason = unavailableReason(error);
  if (reason !== undefined) {
    return new ConnectError(
      `database unavailable: ${reason} (${server})`,
      Code.Unavailable,
      undefined,
      undefined,
      error,
    );
  }
  const sqlState = (error as { code?: unknown }).code;
  if (sqlState === '22021' || sqlState === '22P05') {
    const detail = `${error.message} ${(error as { detail?: unknown }).detail ?? ''}`;
    const nul = detail.includes('0x00') || detail.includes('\\u0000');
    return new ConnectError(
      nul ? nulDetail : `a text value contains a character that cannot be stored (SQLSTATE ${sqlState})`,
      Code.InvalidArgument,
      undefined,
      undefined,
      error,
    );
  }
  return undefined;
}

function unavailableReason(error: Error): string | undefined {
  // Connecting to `localhost` tries every address; Node then reports them together.
  const first = error instanceof AggregateError && error.errors[0] instanceof Error ? error.errors[0] : error;
  const code = (first as { code?: unknown }).code ?? (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (Object.hasOwn(unreachable, code)) return unreachable[code];
    if (code.startsWith('08') || serverNotServing.has(code)) return `${error.message} (SQLSTATE ${code})`;
  }
  return lostConnection.find(([pattern]) => pattern.test(error.message))?.[1];
}

/** `host:port` of a connection URL, for error details: never its user or password. */
export function serverOf(url: string): string {
  const endpoint = databaseEndpoint(url);
  return endpoint ? `${endpoint.host}:${endpoint.port}` : 'unparseable database URL';
}

/** `error` as databaseError maps it, else as it is. */
function mapped(error: unknown, server: string): unknown {
  return databaseError(error, server) ?? error;
}

// biome-ignore lint/suspicious/noExplicitAny: pg's query and connect take a callback or return a promise, overloaded
export type Callback = (error: unknown, ...results: any[]) => void;

/**
 * Calls `run` with `args`, mapping the error it reports, whether through a
 * callback (the last argument) or a rejected promise. Submittables (cursors,
 * streams) report their own errors and pass through as they are.
 */
// biome-ignore lint/suspicious/noExplicitAny: see Callback
export function mappingErrors(server: string, args: any[], run: (...args: any[]) => any): any {
  if (typeof args[0]?.submit === 'function') return run(...args);
  const last = args.length - 1;
  if (typeof args[last] === 'function') {
    const callback = args[last] as Callback;
    args[last] = (error: unknown, ...results: unknown[]) =>
      callback(error ? mapped(error, server) : error, ...results);
    return run(...args);
  }
  return (run(...args) as Promise<unknown>).catch((error: unknown) => {
    throw mapped(error, server);
  });
}
