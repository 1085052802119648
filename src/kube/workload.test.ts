import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { parseSystemFile } from '../config/system-file.ts';
import { renderManifests } from './manifests.ts';

const systemFile = `
system: shippy
telemetry:
  otlpEndpoint: http://otel-collector.observability:4318
  sampler: parentbased_traceidratio
  samplerArg: 1
services:
  vessel: { serves: [] }
  user:
    serves: []
    env: { OTEL_TRACES_SAMPLER_ARG: "0.5" }
environments:
  production:
    telemetry: { samplerArg: 0.1, protocol: grpc }
`;

const parse = (text: string, env?: string) =>
  parseSystemFile(text, { file: '/srv/shippy/berth.yaml', label: 'berth.yaml', env });

function otelEnv(text: string, env: string | undefined, name: string): Record<string, string | undefined> {
  const system = parse(text, env);
  const tags = { gateway: 'r1', vessel: 'r1', user: 'r1' };
  const deployment = renderManifests(system, { tags }).find(
    (object: KubernetesObject) => object.kind === 'Deployment' && object.metadata?.name === name,
  ) as V1Deployment | undefined;
  assert.ok(deployment, `Deployment/${name}`);
  const variables = deployment.spec?.template.spec?.containers[0]?.env ?? [];
  return Object.fromEntries(
    variables
      .filter((variable) => variable.name.startsWith('OTEL_'))
      .map((variable) => [variable.name, variable.value]),
  );
}

test('berth.yaml telemetry becomes OTEL_* on every Deployment, the gateway’s too, overlaid per environment', () => {
  for (const name of ['gateway', 'vessel']) {
    assert.deepEqual(otelEnv(systemFile, 'dev', name), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '1',
      OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=shippy,deployment.environment.name=dev',
    });
  }
  assert.deepEqual(otelEnv(systemFile, 'production', 'vessel'), {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.1',
    OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=shippy,deployment.environment.name=production',
  });
});

test('a service’s own env wins over berth.yaml telemetry; without telemetry no pod gets OTEL_*', () => {
  const user = otelEnv(systemFile, 'dev', 'user');
  assert.equal(user.OTEL_TRACES_SAMPLER_ARG, undefined, 'left to its ConfigMap');
  assert.equal(user.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector.observability:4318');
  const plain =
    systemFile.slice(0, systemFile.indexOf('telemetry:')) + systemFile.slice(systemFile.indexOf('services:'));
  assert.deepEqual(otelEnv(plain.replace(/environments:[\s\S]*/, ''), 'dev', 'vessel'), {});
});

test('a telemetry setting it cannot take is refused, naming it', () => {
  const cases: Array<[string, RegExp]> = [
    ['otlpEndpoint: otel-collector:4318', /telemetry\.otlpEndpoint.*http:\/\/ or https:\/\//s],
    ['otlpEndpoint: http://user:secret@collector:4318', /telemetry\.otlpEndpoint.*password/s],
    ['sampler: sometimes', /telemetry\.sampler/],
    ['samplerArg: 2', /telemetry\.samplerArg/],
  ];
  for (const [line, message] of cases) {
    const text = `system: shippy\ntelemetry:\n  ${line}\nservices:\n  vessel: {}\n`;
    assert.throws(
      () => parse(text),
      (error: Error) => message.test(error.message),
      line,
    );
  }
});
