/**
 * Measures the embedded Postgres's memory under large results (a script, not a test):
 * starts src/runner/pglite-server.ts as `berth run` does (with pgliteNodeFlags), runs
 * QUERIES queries that each return ~100 kB through a `pg` pool of 4, and prints the
 * server's RSS and peak RSS (/proc) and its V8 heap (a Node diagnostic report, taken
 * on SIGUSR2) as it goes. Numbers are in src/runner/README.md and docs/footprint.md.
 *
 *   node test/runner/measure-pglite-memory.ts [queries=2000] [entry=src/runner/pglite-server.ts]
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { waitFor } from '../support/wait.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

const queries = Number(process.argv[2] ?? 2000);
const entry = process.argv[3] ? resolve(process.argv[3]) : undefined;
const MB = 1024 * 1024;

const dir = await mkdtemp(join(tmpdir(), 'berth-pglite-memory-'));
const reports = join(dir, 'reports');
await mkdir(reports);
const server = await startEmbeddedPostgres({
  dataDir: join(dir, 'pglite'),
  password: 'measure',
  entry,
  nodeArgs: [
    '--report-on-signal',
    '--report-signal=SIGUSR2',
    `--report-directory=${reports}`,
    '--report-compact',
  ],
});
const pool = new pg.Pool({ connectionString: server.url, max: 4 });

/** VmRSS and VmHWM of the server, in MB. */
async function rss(): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1]) / 1024;
  return { rss: Math.round(kb('VmRSS')), peak: Math.round(kb('VmHWM')) };
}

/** The server's V8 heap in use, in MB, from a diagnostic report. */
async function heapUsed(): Promise<number> {
  const before = new Set(await readdir(reports).catch(() => []));
  server.child.kill('SIGUSR2');
  const file = await waitFor(
    async () => (await readdir(reports).catch(() => [])).find((name) => !before.has(name)),
    { timeoutMs: 30_000, what: 'the diagnostic report' },
  );
  // Written in one go, but give a half-written file another look.
  const report = await waitFor(
    async () => {
      try {
        return JSON.parse(await readFile(join(reports, file), 'utf8')) as {
          javascriptHeap: { usedMemory: number };
        };
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 10_000, what: 'a complete report' },
  );
  return Math.round(report.javascriptHeap.usedMemory / MB);
}

async function show(done: number): Promise<void> {
  const { rss: now, peak } = await rss();
  console.log(
    `${String(done).padStart(5)} queries  rss ${now} MB  peak ${peak} MB  heap ${await heapUsed()} MB`,
  );
}

try {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS big AS SELECT g AS id, repeat('x', 1000) AS body FROM generate_series(1, 100) g`,
  );
  await show(0);
  const started = performance.now();
  for (let done = 1; done <= queries; done += 1) {
    await pool.query('SELECT * FROM big WHERE id > $1', [0]);
    if (done % 250 === 0 || done === queries) await show(done);
  }
  console.log(`${queries} queries in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await pool.end();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
