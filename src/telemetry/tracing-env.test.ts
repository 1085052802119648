import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tracingRequested, tracingSettingsFromEnv } from './tracing-env.ts';

test('off unless an exporter or an endpoint is set, and off whenever OTEL_SDK_DISABLED=true', () => {
  assert.equal(tracingSettingsFromEnv({}), undefined);
  assert.equal(tracingSettingsFromEnv({ OTEL_TRACES_EXPORTER: 'none' }), undefined);
  assert.equal(tracingSettingsFromEnv({ OTEL_SERVICE_NAME: 'vessel' }), undefined);
  assert.equal(
    tracingSettingsFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_SDK_DISABLED: 'true',
    }),
    undefined,
  );
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }), true);
  assert.equal(
    tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' }),
    false,
  );
});

test('an endpoint means OTLP over http/protobuf unless the protocol says otherwise', () => {
  assert.deepEqual(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), {
    exporters: ['otlp'],
    protocol: 'http/protobuf',
  });
  assert.deepEqual(
    tracingSettingsFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    }),
    { exporters: ['otlp'], protocol: 'http/json' },
  );
  assert.deepEqual(tracingSettingsFromEnv({ OTEL_TRACES_EXPORTER: 'console,otlp' })?.exporters, [
    'console',
    'otlp',
  ]);
});

test('a value tracing cannot take is an error naming its variable', () => {
  const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ OTEL_SDK_DISABLED: 'yes' }, /^OTEL_SDK_DISABLED: expected true or false/],
    [
      { OTEL_TRACES_EXPORTER: 'jaeger' },
      /^OTEL_TRACES_EXPORTER: expected otlp, console or none, got "jaeger"/,
    ],
    [
      { ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http' },
      /^OTEL_EXPORTER_OTLP_PROTOCOL: expected one of http\/protobuf/,
    ],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /^OTEL_EXPORTER_OTLP_ENDPOINT: expected an http/],
    [{ ...on, OTEL_TRACES_SAMPLER: 'sometimes' }, /^OTEL_TRACES_SAMPLER: expected one of always_on/],
    [{ ...on, OTEL_TRACES_SAMPLER_ARG: '1.5' }, /^OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1/],
    [{ ...on, OTEL_BSP_SCHEDULE_DELAY: '1s' }, /^OTEL_BSP_SCHEDULE_DELAY: expected milliseconds/],
    [{ ...on, OTEL_EXPORTER_OTLP_HEADERS: 'token' }, /^OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs/],
    [{ ...on, OTEL_RESOURCE_ATTRIBUTES: 'a=1,=2' }, /^OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs/],
  ];
  for (const [env, message] of cases) assert.throws(() => tracingSettingsFromEnv(env), { message });
  assert.ok(
    tracingSettingsFromEnv({
      ...on,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=dev,team=ships',
    }),
  );
});
