/**
 * A machine's first embedded Postgres (src/runner/pglite-server.ts): initdb runs in a
 * process of its own (pglite-initdb.ts) and leaves the template that this and every
 * later new data folder is copied from, so the long-lived server never holds initdb's
 * memory (~550 MB RSS in the process that ran it).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { pgliteTemplate } from '../../src/runner/plan.ts';
import { reachableByOthers, startEmbeddedPostgres } from './embedded-postgres.ts';

const PASSWORD = 'template-test';
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-pglite-template-'));
  // A cache of its own: the template is made here, whatever this machine's cache holds.
  process.env.BERTH_CACHE_DIR = join(dir, 'cache');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function selectOne(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    assert.deepEqual((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  } finally {
    await client.end();
  }
}

/** VmHWM of a process, in MB: the most it was ever resident. */
function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1]) / 1024;
}

test('without a template, initdb runs elsewhere and leaves an owner-only template; the server copies it', async () => {
  const template = pgliteTemplate(process.env);
  assert.ok(!existsSync(template));
  const server = await startEmbeddedPostgres({ dataDir: join(dir, 'first'), password: PASSWORD });
  try {
    await selectOne(server.url);
    assert.ok(existsSync(join(template, 'PG_VERSION')));
    assert.deepEqual(reachableByOthers(template), []);
    assert.deepEqual(readdirSync(join(dir, 'cache')), [basename(template)], 'no half-made copy is left');
    // Generous: the server opens a copy at ~150 MB; running initdb itself took it past 550.
    const peak = peakRss(server.child.pid!);
    assert.ok(peak < 350, `the server peaked at ${Math.round(peak)} MB`);
  } finally {
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  }
});

test('the next new data folder starts as a copy of that template', async () => {
  const server = await startEmbeddedPostgres({ dataDir: join(dir, 'second'), password: PASSWORD });
  try {
    await selectOne(server.url);
    assert.deepEqual(reachableByOthers(join(dir, 'second')), []);
    // An unusable template would have made it run initdb itself.
    const peak = peakRss(server.child.pid!);
    assert.ok(peak < 350, `the server peaked at ${Math.round(peak)} MB`);
  } finally {
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  }
});
