/**
 * runMain's shutdown on SIGTERM: the spans still buffered are exported even when the
 * service fails to stop, and the process then exits 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fileCleanup } from '../../test/support/cleanup.ts';

const cleanup = fileCleanup();
const fixture = fileURLToPath(new URL('./fixtures/stop-fails.ts', import.meta.url));

test('a service whose stop fails still exports its buffered spans, then exits 1', async () => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OTEL_')));
  const child = spawn(process.execPath, [fixture], {
    env: { ...clean, BERTH_REGISTRY: 'memory', LOG_LEVEL: 'silent', OTEL_TRACES_EXPORTER: 'console' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  const ready = Promise.withResolvers<void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('ready\n')) ready.resolve();
  });
  await Promise.race([ready.promise, exited.then(() => assert.fail(`exited before ready:\n${stdout}`))]);
  assert.doesNotMatch(stdout, /buffered-span/, 'held by the batch processor until shutdown');
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.match(stdout, /name: 'buffered-span'/);
  assert.equal(code, 1);
});
