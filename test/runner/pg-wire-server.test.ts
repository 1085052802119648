/**
 * The embedded Postgres as `berth run` starts it (src/runner/pglite-server.ts in a
 * process of its own), under the concurrency services put on it: many `pg`
 * connections with parameterized queries (extended protocol) and transactions.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { readyStatus } from '../../src/runner/pg-wire-server.ts';
import { pgliteTemplate } from '../../src/runner/plan.ts';
import { acceptsConnections } from '../../src/runner/readiness.ts';
import { waitFor } from '../support/wait.ts';
import { childEnv, freePort, repoRoot } from './berth-run.ts';

let server: ChildProcess;
let url: string;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-pglite-test-'));
  const port = await freePort();
  server = spawn(process.execPath, [join(repoRoot, 'src/runner/pglite-server.ts')], {
    env: childEnv({
      BERTH_PGLITE_DIR: join(dir, 'pglite'),
      BERTH_PGLITE_TEMPLATE: pgliteTemplate(process.env),
      BERTH_PGLITE_MAX_CONNECTIONS: '12',
      PORT: String(port),
      LOG_FORMAT: 'json',
    }),
    stdio: 'ignore',
  });
  await waitFor(() => acceptsConnections('127.0.0.1', port), {
    timeoutMs: 120_000,
    what: 'PGlite to listen',
  });
  url = `postgres://postgres@127.0.0.1:${port}/postgres`;
});

after(async () => {
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
  await rm(dir, { recursive: true, force: true });
});

test('readyStatus reads the transaction status of a closing ReadyForQuery only', () => {
  const ready = (status: string) => Buffer.from([0x5a, 0, 0, 0, 5, status.charCodeAt(0)]);
  const complete = Buffer.from([0x32, 0, 0, 0, 4]); // BindComplete
  assert.equal(readyStatus(Buffer.concat([complete, ready('T')])), 'T');
  assert.equal(readyStatus(ready('I')), 'I');
  assert.equal(readyStatus(complete), undefined);
  assert.equal(readyStatus(Buffer.concat([ready('I'), complete])), undefined);
});

test('concurrent connections with parameterized queries and transactions do not interleave', async () => {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  try {
    await pool.query('CREATE TABLE IF NOT EXISTS mux (worker int NOT NULL, n int NOT NULL)');
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let n = 0; n < 25; n += 1) {
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            await client.query('INSERT INTO mux (worker, n) VALUES ($1, $2)', [worker, n]);
            const { rows } = await client.query<{ c: string }>(
              'SELECT count(*) AS c FROM mux WHERE worker = $1 AND n <= $2',
              [worker, n],
            );
            assert.equal(Number(rows[0]!.c), n + 1);
            await client.query('COMMIT');
          } finally {
            client.release();
          }
        }
      }),
    );
    const { rows } = await pool.query<{ c: string }>('SELECT count(*) AS c FROM mux');
    assert.equal(Number(rows[0]!.c), 200);
  } finally {
    await pool.end();
  }
});

test('a connection that dies inside a transaction has it rolled back; the others carry on', async () => {
  const dying = new pg.Client({ connectionString: url });
  dying.on('error', () => {});
  const other = new pg.Client({ connectionString: url });
  await Promise.all([dying.connect(), other.connect()]);
  await dying.query('CREATE TABLE IF NOT EXISTS gone (x int)');
  await dying.query('BEGIN');
  await dying.query('INSERT INTO gone VALUES ($1)', [1]);
  try {
    // Waits for the session: the dying client holds it until its transaction ends.
    const waiting = other.query<{ c: string }>('SELECT count(*) AS c FROM gone');
    (dying as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    assert.equal(Number((await waiting).rows[0]!.c), 0);
  } finally {
    await other.end();
  }
});

test('connections past the limit are refused with a Postgres error', async () => {
  const clients = Array.from({ length: 13 }, () => new pg.Client({ connectionString: url }));
  const results = await Promise.allSettled(clients.map((client) => client.connect()));
  try {
    const refused = results.filter((result) => result.status === 'rejected');
    assert.equal(refused.length, 1);
    assert.match(String((refused[0] as PromiseRejectedResult).reason), /too many connections \(at most 12\)/);
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
  }
});
