/** The OTEL_* variables `berth run` gives its children (plan.ts), with and without a user's own endpoint or name. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSystemFile } from '../../src/config/system-file.ts';
import { databasesOf, type Plan, planSystem } from '../../src/runner/plan.ts';
import { tracingSettingsFromEnv } from '../../src/telemetry/tracing-env.ts';

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
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4999/v1/traces',
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20tok',
  });
  assert.deepEqual(otel(envOf(plan, 'gateway')), expected('gateway'));
  assert.deepEqual(otel(envOf(plan, 'back-1')), expected('back'));
  assert.deepEqual(otel(envOf(plan, 'postgres')), {});
  // What src/telemetry makes of them: tracing on, over OTLP/HTTP JSON.
  assert.deepEqual(tracingSettingsFromEnv(envOf(plan, 'back-1')), {
    exporters: ['otlp'],
    protocol: 'http/json',
  });
});

test("a user's generic OTLP variables (for metrics, say) stay untouched; the traces still come here", async () => {
  const env = {
    PATH: '/bin',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-key=secret',
  };
  const plan = await planSystem({ system, env, dataDir: '/data', telemetry });
  const back = otel(envOf(plan, 'back-1'));
  assert.equal(back.OTEL_EXPORTER_OTLP_PROTOCOL, 'grpc');
  assert.equal(back.OTEL_EXPORTER_OTLP_HEADERS, 'x-key=secret');
  assert.equal(back.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, 'http://127.0.0.1:4999/v1/traces');
});

test("a user's OTLP endpoint, generic or for traces only, passes through unchanged: no token goes to it", async () => {
  const elsewhere = [
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
    {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-key=secret',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    },
  ];
  for (const user of elsewhere) {
    const plan = await planSystem({ system, env: { PATH: '/bin', ...user }, dataDir: '/data', telemetry });
    for (const instance of ['gateway', 'back-1']) {
      const { OTEL_SERVICE_NAME, ...rest } = otel(envOf(plan, instance));
      assert.deepEqual(rest, user, instance);
      assert.equal(OTEL_SERVICE_NAME, instance === 'gateway' ? 'gateway' : 'back');
    }
  }
});

test("a runner-wide OTEL_SERVICE_NAME does not merge the processes into one service; a service's own env: does name it", async () => {
  const env = { PATH: '/bin', OTEL_SERVICE_NAME: 'mine' };
  const plan = await planSystem({ system, env, dataDir: '/data', telemetry });
  assert.equal(envOf(plan, 'gateway').OTEL_SERVICE_NAME, 'gateway');
  assert.equal(envOf(plan, 'back-1').OTEL_SERVICE_NAME, 'back');
  const back = system.services.back!;
  const named = await planSystem({
    system: {
      ...system,
      services: { ...system.services, back: { ...back, env: { OTEL_SERVICE_NAME: 'back-api' } } },
    },
    env,
    dataDir: '/data',
    telemetry,
  });
  assert.equal(envOf(named, 'back-1').OTEL_SERVICE_NAME, 'back-api');
});

test('the databases the Events page reads: the embedded one once, named, whatever services share it', async () => {
  const plan = await planSystem({ system, env: { PATH: '/bin' }, dataDir: '/data' });
  assert.deepEqual([...databasesOf(plan)], [['embedded', plan.embeddedDatabaseUrl]]);
});
