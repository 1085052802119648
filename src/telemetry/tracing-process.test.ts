/**
 * Tracing as a process entry starts it from the environment: off, nothing of
 * OpenTelemetry is loaded and log lines carry no ids; on, the SDK exports the
 * service's spans under its name and log lines carry the call's trace and span ids.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const probe = fileURLToPath(new URL('./fixtures/probe-process.ts', import.meta.url));
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

/** The probe's stdout: its summary, its log lines, and all of it (the console exporter writes there too). */
async function runProbe(env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OTEL_')));
  const { stdout } = await promisify(execFile)(process.execPath, [probe], {
    env: { ...clean, LOG_FORMAT: 'json', PROBE_TRACEPARENT: traceparent, ...env },
    timeout: 60_000,
  });
  const lines = stdout.split('\n');
  const json = lines.filter((line) => line.startsWith('{"')).map((line) => JSON.parse(line));
  // Found by its keys, not its place: pino may write its last lines after it.
  const summary = json.find((line) => 'loaded' in line) as { status: number; loaded: string[] };
  assert.ok(summary, stdout);
  return { summary, logs: json.filter((line) => line !== summary), stdout };
}

test('with no OTEL_ variables nothing of OpenTelemetry is loaded and log lines carry no ids', async () => {
  const { summary, logs } = await runProbe({});
  assert.equal(summary.status, 200);
  assert.deepEqual(summary.loaded, []);
  const greeting = logs.find((line) => line.msg === 'greeting');
  assert.ok(greeting, 'the handler’s line');
  assert.equal(greeting.trace_id, undefined);
});

test('OTEL_SDK_DISABLED=true wins over an exporter', async () => {
  const { summary } = await runProbe({ OTEL_TRACES_EXPORTER: 'console', OTEL_SDK_DISABLED: 'true' });
  assert.deepEqual(summary.loaded, []);
});

test('with an exporter the service’s span is exported under its name and its log lines carry the ids', async () => {
  const { summary, logs, stdout } = await runProbe({ OTEL_TRACES_EXPORTER: 'console' });
  assert.equal(summary.status, 200);
  assert.ok(summary.loaded.includes('@opentelemetry/sdk-trace-node'), summary.loaded.join(', '));
  const greeting = logs.find((line) => line.msg === 'greeting');
  assert.equal(greeting?.trace_id, traceId);
  assert.match(greeting?.span_id, /^[0-9a-f]{16}$/);
  assert.notEqual(greeting?.span_id, '00f067aa0ba902b7', 'the server span’s own id, not the caller’s');
  assert.match(stdout, /name: 'greeter\.v1\.Say\/Hello'/);
  assert.match(stdout, new RegExp(`traceId: '${traceId}'`));
  assert.match(stdout, /'service\.name': 'probe'/);
});
