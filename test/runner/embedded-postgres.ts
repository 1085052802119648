/**
 * The embedded Postgres as `berth run` starts it (src/runner/pglite-server.ts in a
 * process of its own), for tests and the memory measurement; and a check that a
 * folder is its user's only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pgliteTemplate } from '../../src/runner/plan.ts';
import { answersPostgres } from '../../src/runner/readiness.ts';
import { pgliteNodeFlags } from '../../src/service/node-flags.ts';
import { waitFor } from '../support/wait.ts';
import { childEnv, type Exit, freePort, repoRoot } from './berth-run.ts';

export interface EmbeddedPostgres {
  readonly child: ChildProcess;
  readonly port: number;
  /** With the password. */
  readonly url: string;
  readonly exited: Promise<Exit>;
  /** SIGTERM; resolves with the exit. */
  stop(): Promise<Exit>;
}

export interface EmbeddedPostgresOptions {
  /** Its BERTH_PGLITE_DIR. */
  readonly dataDir: string;
  readonly password: string;
  readonly port?: number;
  readonly maxConnections?: number;
  readonly loginTimeoutMs?: number;
  /** More arguments for node, before the entry file. */
  readonly nodeArgs?: readonly string[];
  /** Default src/runner/pglite-server.ts. */
  readonly entry?: string;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const port = options.port ?? (await freePort());
  const entry = options.entry ?? join(repoRoot, 'src/runner/pglite-server.ts');
  const child = spawn(process.execPath, [...pgliteNodeFlags, ...(options.nodeArgs ?? []), entry], {
    env: childEnv({
      BERTH_PGLITE_DIR: options.dataDir,
      BERTH_PGLITE_TEMPLATE: pgliteTemplate(process.env),
      BERTH_PGLITE_PASSWORD: options.password,
      BERTH_PGLITE_MAX_CONNECTIONS: String(options.maxConnections ?? 100),
      ...(options.loginTimeoutMs === undefined
        ? {}
        : { BERTH_PGLITE_LOGIN_TIMEOUT_MS: String(options.loginTimeoutMs) }),
      PORT: String(port),
      LOG_FORMAT: 'json',
    }),
    stdio: 'ignore',
  });
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await waitFor(
    async () => {
      if (gone) throw new Error('the embedded Postgres exited before it listened');
      return answersPostgres('127.0.0.1', port);
    },
    { timeoutMs: 120_000, what: 'PGlite to listen' },
  );
  return {
    child,
    port,
    url: `postgres://postgres:${options.password}@127.0.0.1:${port}/postgres`,
    exited,
    stop() {
      if (!gone) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Every folder or file at or below `dir` that group or other may access, with its mode. */
export function reachableByOthers(dir: string): string[] {
  const found: string[] = [];
  const visit = (path: string) => {
    const stats = lstatSync(path);
    if (stats.isSymbolicLink()) return;
    if ((stats.mode & 0o077) !== 0) found.push(`${path} ${(stats.mode & 0o777).toString(8)}`);
    if (stats.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return found;
}
