/**
 * The OTLP receiver's gzip bodies (OTEL_EXPORTER_OTLP_COMPRESSION=gzip): the real
 * exporters' compressed batches, JSON and protobuf, are kept as uncompressed ones
 * are; the body limit holds for what a body inflates to, and inflating stops there
 * (a gzip bomb is a 413 naming the limit); corrupt gzip is a 400.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { idleRuntime } from './support/idle-runtime.ts';
import { errorOf } from './support/otlp-status.ts';

const limit = 64 * 1024;
let dashboard: Dashboard;
before(async () => {
  dashboard = await Dashboard.start({ runtime: idleRuntime, bodyLimitBytes: limit });
});
after(() => dashboard.close());

const ingest = () => ({ authorization: `Bearer ${dashboard.ingestToken}` });
const gzip = 'gzip' as CompressionAlgorithm;

function post(body: Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) {
  return fetch(`${dashboard.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', ...ingest(), ...headers },
    body,
  });
}

/** Zeros, gzipped: 16 MiB in about 16 KiB, well under the limit before inflating and far over it after. */
const bomb = new Uint8Array(gzipSync(Buffer.alloc(16 * 1024 * 1024)));

test('the real exporters’ gzip batches, JSON and protobuf, are kept', async () => {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'gzipped' }),
    spanProcessors: [
      new SimpleSpanProcessor(
        new JsonExporter({ url: `${dashboard.url}/v1/traces`, headers: ingest(), compression: gzip }),
      ),
    ],
  });
  const protobufProvider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'gzipped-protobuf' }),
    spanProcessors: [
      new SimpleSpanProcessor(
        new ProtobufExporter({ url: `${dashboard.url}/v1/traces`, headers: ingest(), compression: gzip }),
      ),
    ],
  });
  const viaJson = provider.getTracer('gzip-test').startSpan('json, gzipped', { attributes: { n: 1 } });
  viaJson.end();
  const viaProtobuf = protobufProvider.getTracer('gzip-test').startSpan('protobuf, gzipped');
  viaProtobuf.end();
  await Promise.all([provider.shutdown(), protobufProvider.shutdown()]);

  const json = dashboard.spans.trace(viaJson.spanContext().traceId);
  assert.deepEqual(
    json?.map((span) => [span.name, span.service, span.attributes]),
    [['json, gzipped', 'gzipped', { n: 1 }]],
  );
  const protobuf = dashboard.spans.trace(viaProtobuf.spanContext().traceId);
  assert.deepEqual(
    protobuf?.map((span) => [span.name, span.service]),
    [['protobuf, gzipped', 'gzipped-protobuf']],
  );
});

test('a gzip bomb is a 413 naming the limit, and inflating stops at the limit', async () => {
  const before = dashboard.spans.spanCount;
  const answer = await post(bomb);
  assert.equal(answer.status, 413);
  assert.equal(
    await errorOf(answer),
    `request body over ${limit} bytes once inflated (content-encoding gzip)`,
  );

  // The same bomb without its end (CRC and length): inflated to the end, it would be a
  // 400 for a truncated stream; stopping at the limit, it never gets there.
  const cut = await post(bomb.slice(0, bomb.length - 8));
  assert.equal(cut.status, 413);
  assert.match(await errorOf(cut), /once inflated/);
  assert.equal(dashboard.spans.spanCount, before, 'nothing kept');
});

test('corrupt gzip is a 400 naming it; another encoding a 415 naming gzip and identity', async () => {
  const notGzip = await post(new TextEncoder().encode('{"resourceSpans": []}'));
  assert.equal(notGzip.status, 400);
  assert.match(await errorOf(notGzip), /^the body is not valid gzip \(content-encoding gzip\): \S/);

  const deflate = await post(new TextEncoder().encode('{}'), { 'content-encoding': 'deflate' });
  assert.equal(deflate.status, 415);
  assert.equal(
    await errorOf(deflate),
    'content-encoding "deflate" is not read here: send gzip or identity (OTEL_EXPORTER_OTLP_COMPRESSION=gzip or none)',
  );

  const identity = await post(new TextEncoder().encode('{"resourceSpans": []}'), {
    'content-encoding': 'identity',
  });
  assert.equal(identity.status, 200);
  await identity.arrayBuffer();
});
