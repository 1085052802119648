/**
 * The dashboard's OTLP/HTTP protobuf receiver, fed by the real OpenTelemetry
 * exporters: the same spans sent as protobuf to one dashboard and as JSON to
 * another are kept the same, and a malformed body is a 400 naming what is wrong,
 * after which the dashboard still serves.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { ExportTraceServiceRequestSchema } from '../../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { idleRuntime } from './support/idle-runtime.ts';
import { errorOf } from './support/otlp-status.ts';
import { exportSampleTrace } from './support/sample-trace.ts';

let viaProtobuf: Dashboard;
let viaJson: Dashboard;
before(async () => {
  [viaProtobuf, viaJson] = await Promise.all([
    Dashboard.start({ runtime: idleRuntime, bodyLimitBytes: 64 * 1024 }),
    Dashboard.start({ runtime: idleRuntime, bodyLimitBytes: 64 * 1024 }),
  ]);
});
after(() => Promise.all([viaProtobuf.close(), viaJson.close()]));

const ingest = (dashboard: Dashboard) => ({ authorization: `Bearer ${dashboard.ingestToken}` });

function post(body: Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) {
  return fetch(`${viaProtobuf.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', ...ingest(viaProtobuf), ...headers },
    body,
  });
}

test('spans from the real protobuf exporter are kept as the JSON exporter’s are', async () => {
  const { parent, linked } = await exportSampleTrace('go-beside-berth', [
    new ProtobufExporter({ url: `${viaProtobuf.url}/v1/traces`, headers: ingest(viaProtobuf) }),
    new JsonExporter({ url: `${viaJson.url}/v1/traces`, headers: ingest(viaJson) }),
  ]);

  const { traceId } = parent;
  const kept = viaProtobuf.spans.trace(traceId);
  assert.ok(kept, 'the protobuf spans are kept');
  assert.deepEqual(kept, viaJson.spans.trace(traceId));
  // By name, not position: the two spans may start in the same microsecond, and the trace orders by start.
  const server = kept.find((span) => span.name === 'VesselService/FindAvailable');
  const client = kept.find((span) => span.name === 'SELECT vessels');
  assert.equal(server?.service, 'go-beside-berth');
  assert.equal(server?.kind, 'server');
  assert.equal(server?.attributes['rpc.grpc.status_code'], 13);
  assert.deepEqual(
    server?.links,
    [linked].map(({ traceId, spanId }) => ({ traceId, spanId })),
  );
  assert.equal(client?.parentSpanId, parent.spanId);
  assert.deepEqual(client?.attributes, { 'db.rows': 2.5, 'db.cached': false, 'db.tags': ['a', 'b'] });
  assert.deepEqual(
    client?.events.map((event) => [event.name, event.attributes]),
    [['retry', { attempt: 2 }]],
  );
  assert.deepEqual([client?.status, client?.statusMessage], ['error', 'the disk is gone']);
});

test('a malformed protobuf body is a 400 naming what is wrong (a protobuf google.rpc.Status), and the dashboard keeps serving', async () => {
  const before = viaProtobuf.spans.spanCount;
  const garbage = await post(Buffer.from([0x0a, 0xff, 0xff]));
  assert.equal(garbage.status, 400);
  assert.equal(
    garbage.headers.get('content-type'),
    'application/x-protobuf',
    'answered in the request encoding',
  );
  assert.match(await errorOf(garbage), /^the body is not a protobuf ExportTraceServiceRequest: \S/);

  const shortId = new Uint8Array(
    toBinary(
      ExportTraceServiceRequestSchema,
      create(ExportTraceServiceRequestSchema, {
        resourceSpans: [
          { scopeSpans: [{ spans: [{ traceId: new Uint8Array(3), spanId: new Uint8Array(8), name: 'x' }] }] },
        ],
      }),
    ),
  );
  const wrongId = await post(shortId);
  assert.equal(wrongId.status, 400);
  assert.equal(
    await errorOf(wrongId),
    'resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 16 bytes, got 3',
  );
  assert.equal(viaProtobuf.spans.spanCount, before, 'nothing kept');

  const empty = await post(Buffer.alloc(0));
  assert.equal(empty.status, 200, 'an empty request is a valid one');
  assert.equal(empty.headers.get('content-type'), 'application/x-protobuf');
  assert.equal((await empty.arrayBuffer()).byteLength, 0, 'an empty ExportTraceServiceResponse');
});

test('limits and what is not OTLP: 413 past the body limit, 415 for an encoding but gzip or another type', async () => {
  const big = await post(Buffer.alloc(65 * 1024));
  assert.equal(big.status, 413);
  assert.match(await errorOf(big), /over 65536 bytes/);

  const brotli = await post(Buffer.alloc(0), { 'content-encoding': 'br' });
  assert.equal(brotli.status, 415);
  assert.match(await errorOf(brotli), /content-encoding "br" is not read here: send gzip or identity/);

  const text = await post(Buffer.alloc(0), { 'content-type': 'text/plain' });
  assert.equal(text.status, 415);
  assert.match(await errorOf(text), /application\/x-protobuf or application\/json, got "text\/plain"/);
});
