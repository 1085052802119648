/** The OTEL_* variables `berth run` gives its children (plan.ts), with and without a user's own endpoint. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSystemFile } from '../../src/config/system-file.ts';
import { databasesOf, type Plan, planSystem } from '../../src/runner/plan.ts';

const system = loadSystemFile(join(import.meta.dirname, '../runner/fixtures'));
const telemetry = { endpoint: 'http://127.0.0.1:4999', token: 'tok' };
const envOf = (plan: Plan, instance: string) =>
  plan.units.flatMap((unit) => unit.processes).find((process) => process.instance === instance)!.env;
const otel = (env: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(env).filter(([key]) => key.startsWith('OTEL_')));

test('the gateway and each service send their traces to the dashboard, each under its own name', async () => {
  const plan = await planSystem({ system, env: { PATH: '/bin' }, dataDir: '/data', telemetry });
  const expected = (name: string) => ({
    OTEL_SERVICE_NAME: name,
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4999',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20tok',
  });
  assert.deepEqual(otel(envOf(plan, 'gateway')), expected('gateway'));
  assert.deepEqual(otel(envOf(plan, 'back-1')), expected('back'));
  assert.deepEqual(otel(envOf(plan, 'postgres')), {});
});

test("a user's OTEL_EXPORTER_OTLP_ENDPOINT passes through unchanged, and so does their service name", async () => {
  const env = {
    PATH: '/bin',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
  };
  const plan = await planSystem({ system, env, dataDir: '/data', telemetry });
  assert.deepEqual(otel(envOf(plan, 'back-1')), {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_SERVICE_NAME: 'back',
  });
  const named = await planSystem({
    system,
    env: { ...env, OTEL_SERVICE_NAME: 'mine' },
    dataDir: '/data',
    telemetry,
  });
  assert.equal(envOf(named, 'back-1').OTEL_SERVICE_NAME, 'mine');
});

test('the databases the Events page reads: the embedded one once, named, whatever services share it', async () => {
  const plan = await planSystem({ system, env: { PATH: '/bin' }, dataDir: '/data' });
  assert.deepEqual([...databasesOf(plan)], [['embedded', plan.embeddedDatabaseUrl]]);
});
