/**
 * With nothing registered with OpenTelemetry, events and queries load nothing of it:
 * a child process (a fresh module graph) publishes, delivers, enqueues and queries
 * while a module hook lists every `@opentelemetry/*` module resolved.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const root = join(import.meta.dirname, '../..');

const child = `
import { registerHooks } from 'node:module';
const seen = [];
registerHooks({
  resolve(specifier, context, next) {
    if (specifier.includes('@opentelemetry/')) seen.push(specifier);
    return next(specifier, context);
  },
});
const { DirectBroker } = await import('./src/broker/direct-broker.ts');
const { enqueue } = await import('./src/broker/outbox.ts');
const { MemoryRegistry } = await import('./src/registry/memory-registry.ts');
const { createPool } = await import('./src/store/pool.ts');

const registry = new MemoryRegistry();
const broker = await DirectBroker.start({ registry, token: 't' });
const received = [];
await broker.subscribe('user.created', async (event) => void received.push(event), { queue: 'email' });
await broker.publish('user.created', { data: 1, headers: { 'x-request-id': 'r1' } });
// No database listens there: the query and the enqueue fail, after passing every span site.
const pool = createPool('postgres://postgres@127.0.0.1:1/app', { connectionTimeoutMs: 1000, traceRootQueries: true });
const failures = await Promise.allSettled([pool.query('SELECT 1'), enqueue(pool, 'user.created', { data: 2 })]);
await pool.end();
await broker.close();
await registry.close();
const before = [...seen];
await import('@opentelemetry/api');
console.log(JSON.stringify({ before, after: seen, received: received.map((e) => e.headers), failures: failures.map((f) => f.status) }));
`;

describe('with tracing off', () => {
  it('publish, delivery, enqueue and queries load nothing of OpenTelemetry', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '--no-warnings', '-e', child],
      { cwd: root, timeout: 60_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.deepEqual(result.received, [{ 'x-request-id': 'r1' }]);
    assert.deepEqual(result.failures, ['rejected', 'rejected']);
    assert.deepEqual(result.before, []);
    assert.deepEqual(result.after, ['@opentelemetry/api'], 'the hook sees an import of the API');
  });
});
