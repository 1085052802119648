/**
 * What the wire server serves must not stay on its heap: PGlite's execProtocolRaw
 * kept every result it returned, and the embedded Postgres grew by each large
 * result until it died of heap exhaustion. (test/runner/measure-pglite-memory.ts
 * measures the real process under 2000 such queries.)
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { silentLogger } from '../../src/log/logger.ts';
import { PgWireServer } from '../../src/runner/pg-wire-server.ts';
import { pgliteTemplate } from '../../src/runner/plan.ts';

const MB = 1024 * 1024;

test('the heap stays flat over hundreds of 100 kB results served over the wire', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // A copy of the machine's template when there is one (< 1 s), else initdb in memory (10-20 s).
  const template = pgliteTemplate(process.env);
  const dir = mkdtempSync(join(tmpdir(), 'berth-pglite-memory-'));
  if (existsSync(join(template, 'PG_VERSION'))) cpSync(template, join(dir, 'db'), { recursive: true });
  const db = existsSync(join(dir, 'db')) ? new PGlite(join(dir, 'db')) : new PGlite();
  await db.waitReady;
  const server = new PgWireServer({
    db,
    host: '127.0.0.1',
    port: 0,
    maxConnections: 4,
    password: 'memory-test',
    logger: silentLogger(),
  });
  const client = new pg.Client({
    connectionString: `postgres://postgres:memory-test@${await server.start()}/postgres`,
  });
  await client.connect();
  t.after(async () => {
    await client.end();
    await server.stop();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await client.query(
    `CREATE TABLE big AS SELECT g AS id, repeat('x', 1000) AS body FROM generate_series(1, 100) g`,
  );
  const queries = async (count: number) => {
    for (let i = 0; i < count; i += 1) {
      const { rows } = await client.query('SELECT * FROM big WHERE id > $1', [0]);
      assert.equal(rows.length, 100);
    }
  };
  await queries(50); // warm: code, caches, PGlite's buffers at their size
  gc();
  const before = process.memoryUsage().heapUsed;
  await queries(300);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  // Kept, the 300 results (about 110 kB each as parsed messages) would be some 30 MB.
  assert.ok(grown < 8 * MB, `the heap grew by ${(grown / MB).toFixed(1)} MB over 300 results`);
});
