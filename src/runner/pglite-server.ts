/**
 * The embedded Postgres of `berth run`: one PGlite (Postgres compiled to WASM)
 * served over the Postgres wire protocol, so services use `pg` as they would with
 * a real server. It runs in a process of its own because it is big (≈ 150 MB RSS,
 * with the settings below and pgliteNodeFlags) and slow to create (initdb: 10–20 s):
 * the runner starts it once, shows its memory as a process of its own and restarts it
 * if it crashes.
 *
 * PGlite is a single session; PgWireServer (pg-wire-server.ts) multiplexes many
 * client connections onto it, one exchange or transaction at a time. Every service
 * connects as `postgres` to database `postgres`, with the run's password, and keeps
 * its tables in a schema of its own. Everything it writes is its user's only: the
 * data folder 0700, its files 0600 (private-files.ts).
 *
 *   BERTH_PGLITE_PASSWORD  the password clients must prove (SCRAM-SHA-256); required
 *   BERTH_PGLITE_DIR       data folder (created on first start)
 *   BERTH_PGLITE_TEMPLATE  optional folder: a brand-new data folder is copied from it
 *                          instead of running initdb (< 1 s instead of 10–20 s); made
 *                          when missing, by initdb in a process of its own
 *   BERTH_HOST, PORT       where to listen (default 127.0.0.1:5432)
 *   BERTH_PGLITE_MAX_CONNECTIONS  default 100
 *   BERTH_PGLITE_LOGIN_TIMEOUT_MS time from connecting to logging in, default 10000
 *   LOG_LEVEL, LOG_FORMAT
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { loggerFromEnv } from '../log/logger.ts';
import { PgWireServer } from './pg-wire-server.ts';
import { makePrivateDir, makeTreePrivate } from './private-files.ts';

// Before anything is written: what PGlite (through Node's fs) creates from now on is owner-only.
process.umask(0o077);
const env = process.env;
const INITDB_ENTRY = resolve(import.meta.dirname, 'pglite-initdb.ts');
// The runner reads its children's output through a pipe: JSON unless LOG_FORMAT says otherwise.
const logger = loggerFromEnv(env, false, 'postgres');
const dataDir = env.BERTH_PGLITE_DIR;
if (!dataDir) {
  logger.fatal('BERTH_PGLITE_DIR is not set: the folder that holds the database');
  process.exit(1);
}
const password = env.BERTH_PGLITE_PASSWORD;
if (!password) {
  logger.fatal('BERTH_PGLITE_PASSWORD is not set: the password clients of the embedded Postgres must give');
  process.exit(1);
}
const host = env.BERTH_HOST ?? '127.0.0.1';
const port = Number(env.PORT ?? 5432);
const maxConnections = Number(env.BERTH_PGLITE_MAX_CONNECTIONS ?? 100);
const loginTimeoutMs = Number(env.BERTH_PGLITE_LOGIN_TIMEOUT_MS ?? 10_000);

/**
 * PGlite's own start parameters, and a smaller buffer pool: 16 MB instead of Postgres's
 * 128 MB, which PGlite's WebAssembly memory grows into as pages are read (358 → 223 MB
 * RSS after 9,000 queries, no slower: the files stay in the OS's page cache). A start
 * parameter rather than postgresql.conf, so a data folder is never rewritten.
 * fsync stays as PGlite sets it; nothing here trades durability for memory.
 */
const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

const started = performance.now();
const template = env.BERTH_PGLITE_TEMPLATE;
let db: PGlite | undefined;
let server: PgWireServer | undefined;
let address: string;
try {
  db = await openDatabase(dataDir, template);
  server = new PgWireServer({ db, host, port, maxConnections, loginTimeoutMs, password, logger });
  address = await server.start();
} catch (error) {
  logger.fatal({ err: error }, `embedded Postgres did not start: ${(error as Error).message}`);
  process.exit(1);
}
logger.info(
  { address, dataDir, ms: Math.round(performance.now() - started) },
  'embedded Postgres (PGlite) is listening',
);

let stopping = false;
const stop = async (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  try {
    await server?.stop();
    // Closing flushes PGlite's files: the data survives the next start.
    await db?.close();
    process.exit(0);
  } catch (error) {
    logger.error({ err: error }, 'stop failed');
    process.exit(1);
  }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/**
 * Opens the database in `dir`. A brand-new one (no PG_VERSION yet) starts as a copy
 * of `template` (a plain file copy: well under a second); when there is no template
 * yet, a process of its own makes it first (initdb, 10–20 s: pglite-initdb.ts), so
 * initdb's memory is not held by this long-lived one. Without a template (none
 * configured, or it cannot be made) initdb runs here.
 * Whatever the way, the folder ends up owner-only: one written by an older berth,
 * copied from an older template, or just made by initdb (which writes 0666 files).
 */
async function openDatabase(dir: string, template: string | undefined): Promise<PGlite> {
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (fresh && template && !existsSync(join(template, 'PG_VERSION'))) await makeTemplate(template);
  if (fresh && template && existsSync(join(template, 'PG_VERSION'))) {
    try {
      rmSync(dir, { recursive: true, force: true });
      makeTreePrivate(template);
      cpSync(template, dir, { recursive: true });
      const db = new PGlite(dir, { startParams });
      await db.waitReady;
      makeTreePrivate(dir);
      logger.info({ template }, 'new database copied from the template');
      return db;
    } catch (error) {
      logger.warn({ err: error, template }, 'the template is unusable: removing it and running initdb');
      rmSync(template, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }
  makePrivateDir(dir);
  const db = new PGlite(dir, { startParams });
  await db.waitReady;
  makeTreePrivate(dir);
  return db;
}

/**
 * Runs initdb for `template` in a child process (with this process's Node flags).
 * Several runners may do this at once: each initialises a folder of its own, the
 * first rename wins. A failure is logged, not thrown: the caller runs initdb itself.
 */
async function makeTemplate(template: string): Promise<void> {
  logger.info({ template }, 'initialising the template for new databases (initdb, once per PGlite version)');
  const partial = `${template}.${process.pid}.tmp`;
  try {
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(dirname(template), { recursive: true, mode: 0o700 });
    const child = spawn(process.execPath, [...process.execArgv, INITDB_ENTRY], {
      env: { ...env, BERTH_PGLITE_PASSWORD: undefined, BERTH_PGLITE_DIR: partial },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    if (code !== 0) throw new Error(`initdb exited with ${signal ?? `code ${code}`}`);
    renameSync(partial, template);
  } catch (error) {
    if (!existsSync(join(template, 'PG_VERSION'))) {
      logger.warn({ err: error, template }, 'could not make the template; running initdb in this process');
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}
