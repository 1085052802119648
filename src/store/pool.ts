/**
 * Postgres for services: a small `pg` Pool per service, transactions, readiness.
 * The same code runs against the embedded PGlite that `berth run` serves over the
 * wire protocol and against a real PostgreSQL.
 *
 * Each service owns a schema and names its tables `"<schema>".<table>` (`qualify`).
 * It does not rely on `search_path`: PGlite is ONE backend session that the socket
 * server multiplexes every connection onto, so a `SET search_path` on one service's
 * connection would change it for every other service's connections too (and
 * startup options such as `-c search_path=...` are ignored). For the same reason:
 * keep transactions short and never await another service inside one — while a
 * PGlite connection is in a transaction, every other connection's queries wait.
 */
import type pg from 'pg';
import { ConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import { berthPool } from './berth-pool.ts';
import { serverOf } from './database-errors.ts';
import { queryTracing } from './query-spans.ts';

export { qualify, quoteIdent, withTransaction } from './sql.ts';

export interface PoolOptions {
  /** Connections at most; keep it small (PGlite serves a bounded number). Default 4. */
  readonly max?: number;
  /** Shown in `pg_stat_activity`. */
  readonly applicationName?: string;
  /** Gets errors of idle connections (the server went away), which would otherwise crash the process. */
  readonly logger?: Logger;
  /** How long to wait for a connection. Default 5 s. */
  readonly connectionTimeoutMs?: number;
  /**
   * Also trace queries run outside any span (pollers, startup). Off by default: every
   * poll of the outbox relay would be a trace of its own. Queries inside a trace
   * always get a span (query-spans.ts) once the process has registered an SDK.
   */
  readonly traceRootQueries?: boolean;
}

/**
 * A pool for `url`. Its errors are berth's where that is what they mean
 * (database-errors.ts): a database that cannot be reached is `unavailable`
 * (503) naming `host:port`, a NUL character in a text value `invalid_argument`.
 * Its queries are traced (query-spans.ts).
 */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const config: pg.PoolConfig = {
    connectionString: url,
    max: options.max ?? 4,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 10_000,
  };
  const pool = berthPool(config, serverOf(url), queryTracing(url, options.traceRootQueries ?? false));
  pool.on('error', (error) => {
    options.logger?.warn({ err: error }, 'an idle database connection failed; the pool replaces it');
  });
  return pool;
}

/** Readiness check: `SELECT 1`, given up when `signal` aborts (a check must never hang). */
export async function checkDatabase(pool: pg.Pool, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('database did not answer SELECT 1 in time'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([pool.query('SELECT 1'), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

export interface WaitForDatabaseOptions {
  /** Give up after this long. Default 30 s. */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

/**
 * Answers no wait can change: the server is up and refuses these credentials
 * (SQLSTATE class 28) or has no such database (3D000).
 */
function refusal(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (code.startsWith('28')) return 'check the user and password in the database URL';
  if (code === '3D000') return 'create the database, or fix its name in the database URL';
  return undefined;
}

/**
 * Resolves once the database answers, retrying with backoff: services started
 * together with their database (or by Kubernetes before it is up) wait for it
 * instead of crash-looping. Throws with the last reason after `timeoutMs`, and at
 * once when the server answers with a refusal no wait can change.
 */
export async function waitForDatabase(pool: pg.Pool, options: WaitForDatabaseOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      await pool.query('SELECT 1');
      return;
    } catch (error) {
      const reason = error instanceof ConnectError ? error.rawMessage : (error as Error).message;
      const fix = refusal(error);
      if (fix !== undefined) {
        const code = (error as { code: string }).code;
        throw new Error(`the database refused the connection: ${reason} (SQLSTATE ${code}); ${fix}`, {
          cause: error,
        });
      }
      if (Date.now() >= deadline) {
        throw new Error(`database not reachable after ${attempt} attempts: ${reason}`, { cause: error });
      }
      const delay = Math.min(2_000, 100 * 2 ** (attempt - 1));
      options.logger?.info({ attempt, retryInMs: delay, reason }, 'waiting for the database');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** `url` with its password replaced by `***`, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable database URL)';
  }
}
