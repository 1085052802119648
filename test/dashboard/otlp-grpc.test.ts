/**
 * The dashboard's OTLP/gRPC receiver, on the dashboard's own port, fed by the real
 * OpenTelemetry gRPC exporters: the spans and log records they send are kept as the
 * OTLP/HTTP protobuf exporters' are (one provider sends the same ones to a second
 * dashboard over HTTP). Refusals are gRPC statuses naming what is wrong, sent here
 * with node:http2 as any gRPC client frames them; HTTP/1.1 keeps working beside it.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { after, before, test } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { Metadata } from '@grpc/grpc-js';
import { context, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtobufLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import type { LogLine } from '../../src/dashboard/log-buffer.ts';
import { ExportMetricsServiceRequestSchema } from '../../src/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { ExportTraceServiceRequestSchema } from '../../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { idleRuntime } from './support/idle-runtime.ts';
import { exportSampleTrace } from './support/sample-trace.ts';

const limitBytes = 64 * 1024;
let viaGrpc: Dashboard;
let viaHttp: Dashboard;
before(async () => {
  [viaGrpc, viaHttp] = await Promise.all([
    Dashboard.start({ runtime: idleRuntime, bodyLimitBytes: limitBytes }),
    Dashboard.start({ runtime: idleRuntime, bodyLimitBytes: limitBytes }),
  ]);
});
after(() => Promise.all([viaGrpc.close(), viaHttp.close()]));

const bearer = (token: string) => `Bearer ${token}`;

function metadataWith(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', bearer(token));
  return metadata;
}

const tracePath = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** One unary gRPC call over h2c: its status and message, from the headers (trailers-only) or the trailers. */
async function grpcCall(
  path: string,
  message: Uint8Array,
  authorization?: string,
): Promise<{ status: string; message: string }> {
  const session = connect(viaGrpc.url);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...(authorization === undefined ? {} : { authorization }),
    });
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    stream.end(frame);
    const answer: Record<string, unknown> = {};
    stream.on('response', (headers) => Object.assign(answer, headers));
    stream.on('trailers', (trailers) => Object.assign(answer, trailers));
    stream.resume();
    await new Promise((resolve, reject) => stream.once('close', resolve).once('error', reject));
    return {
      status: String(answer['grpc-status']),
      message: decodeURIComponent(String(answer['grpc-message'] ?? '')),
    };
  } finally {
    session.close();
  }
}

function traceExport(traceId: Uint8Array, name: string): Uint8Array {
  return toBinary(
    ExportTraceServiceRequestSchema,
    create(ExportTraceServiceRequestSchema, {
      resourceSpans: [
        {
          scopeSpans: [
            { spans: [{ traceId, spanId: new Uint8Array(8).fill(1), name, startTimeUnixNano: 1n }] },
          ],
        },
      ],
    }),
  );
}

test('spans from the real gRPC exporter are kept as the HTTP protobuf exporter’s are', async () => {
  const { parent } = await exportSampleTrace('aspire-minded', [
    new GrpcExporter({ url: viaGrpc.url, metadata: metadataWith(viaGrpc.ingestToken) }),
    new ProtobufExporter({
      url: `${viaHttp.url}/v1/traces`,
      headers: { authorization: bearer(viaHttp.ingestToken) },
    }),
  ]);

  const kept = viaGrpc.spans.trace(parent.traceId);
  assert.ok(kept, 'the spans sent over gRPC are kept');
  assert.equal(kept.length, 2);
  assert.deepEqual(kept, viaHttp.spans.trace(parent.traceId));
  const client = kept.find((span) => span.name === 'SELECT vessels');
  assert.equal(client?.service, 'aspire-minded');
  assert.deepEqual([client?.status, client?.statusMessage], ['error', 'the disk is gone']);
});

const withoutSeq = ({ seq: _, ...line }: LogLine) => line;

async function logsOf(dashboard: Dashboard, service: string): Promise<LogLine[]> {
  const answer = await fetch(`${dashboard.url}/api/logs?service=${service}`, {
    headers: { authorization: bearer(dashboard.token) },
  });
  return ((await answer.json()) as { lines: LogLine[] }).lines;
}

for (const compression of ['none', 'gzip'] as CompressionAlgorithm[]) {
  test(`log records from the real gRPC logs exporter (compression ${compression}) are kept as the HTTP protobuf exporter’s are`, async () => {
    const service = `payments-grpc-${compression}`;
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': service }),
      processors: [
        new BatchLogRecordProcessor({
          exporter: new GrpcLogExporter({
            url: viaGrpc.url,
            metadata: metadataWith(viaGrpc.ingestToken),
            compression,
          }),
        }),
        new BatchLogRecordProcessor({
          exporter: new ProtobufLogExporter({
            url: `${viaHttp.url}/v1/logs`,
            headers: { authorization: bearer(viaHttp.ingestToken) },
          }),
        }),
      ],
    });
    const logger = provider.getLogger('payments');
    const inSpan = trace.setSpanContext(context.active(), {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    });
    logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'charging card' });
    logger.emit({ severityNumber: SeverityNumber.WARN, body: 'card declined, retrying', context: inSpan });
    logger.emit({
      severityNumber: SeverityNumber.ERROR,
      body: 'gave up',
      attributes: { code: 'E42', attempt: 3 },
    });
    await provider.forceFlush();
    await provider.shutdown();

    const lines = await logsOf(viaGrpc, service);
    assert.deepEqual(
      lines.map((line) => [line.level, line.message]),
      [
        ['info', 'charging card'],
        ['warn', 'card declined, retrying'],
        ['error', 'gave up'],
      ],
    );
    assert.deepEqual(lines.map(withoutSeq), (await logsOf(viaHttp, service)).map(withoutSeq));
  });
}

test('a wrong or missing ingest token, or the page token, is UNAUTHENTICATED naming what to set, and nothing is kept', async () => {
  const spans = viaGrpc.spans.spanCount;
  const message = traceExport(new Uint8Array(16).fill(7), 'not-allowed');
  for (const authorization of [undefined, bearer('wrong'), bearer(viaGrpc.token), viaGrpc.ingestToken]) {
    const answer = await grpcCall(tracePath, message, authorization);
    assert.equal(answer.status, '16', `authorization ${authorization}`);
    assert.match(
      answer.message,
      /ingest token .*OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer <ingest token>/,
    );
  }
  const logs = await grpcCall('/opentelemetry.proto.collector.logs.v1.LogsService/Export', new Uint8Array(0));
  assert.equal(logs.status, '16');
  assert.equal(viaGrpc.spans.spanCount, spans);
  assert.equal(viaGrpc.spans.trace('07'.repeat(16)), undefined);
});

test('a malformed message is INVALID_ARGUMENT naming what is wrong, one over the limit RESOURCE_EXHAUSTED, and the dashboard keeps serving', async () => {
  const spans = viaGrpc.spans.spanCount;
  const ingest = bearer(viaGrpc.ingestToken);
  const garbage = await grpcCall(tracePath, Buffer.from([0x0a, 0xff, 0xff]), ingest);
  assert.equal(garbage.status, '3');
  assert.match(garbage.message, /^the message is not a protobuf ExportTraceServiceRequest: \S/);

  const shortId = await grpcCall(tracePath, traceExport(new Uint8Array(3), 'x'), ingest);
  assert.deepEqual(shortId, {
    status: '3',
    message: 'resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 16 bytes, got 3',
  });

  const tooLarge = await grpcCall(tracePath, traceExport(new Uint8Array(16), 'x'.repeat(limitBytes)), ingest);
  assert.equal(tooLarge.status, '8');
  assert.equal(viaGrpc.spans.spanCount, spans, 'nothing of a refused message is kept');

  const fine = await grpcCall(
    tracePath,
    traceExport(new Uint8Array(16).fill(9), 'after-the-refusals'),
    ingest,
  );
  assert.deepEqual(fine, { status: '0', message: '' });
  assert.equal(viaGrpc.spans.trace('09'.repeat(16))?.[0]?.name, 'after-the-refusals');
});

test('the same port serves HTTP/1.1 beside gRPC: the page and POST /v1/traces', async () => {
  const viaGrpcCall = await grpcCall(
    tracePath,
    traceExport(new Uint8Array(16).fill(5), 'over-grpc'),
    bearer(viaGrpc.ingestToken),
  );
  assert.equal(viaGrpcCall.status, '0');
  const page = await fetch(`${viaGrpc.url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  const posted = await fetch(`${viaGrpc.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', authorization: bearer(viaGrpc.ingestToken) },
    body: new Uint8Array(traceExport(new Uint8Array(16).fill(6), 'over-http')),
  });
  assert.equal(posted.status, 200);
  assert.deepEqual(
    ['05', '06'].map((id) => viaGrpc.spans.trace(id.repeat(16))?.[0]?.name),
    ['over-grpc', 'over-http'],
  );
});

test('MetricsService/Export: a malformed message is INVALID_ARGUMENT naming the field, nothing of it kept', async () => {
  const metricsPath = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
  const ingest = bearer(viaGrpc.ingestToken);
  const garbage = await grpcCall(metricsPath, Buffer.from([0x0a, 0xff, 0xff]), ingest);
  assert.equal(garbage.status, '3');
  assert.match(garbage.message, /^the message is not a protobuf ExportMetricsServiceRequest: \S/);
  // A good metric, then one without data: the message is refused whole.
  const message = toBinary(
    ExportMetricsServiceRequestSchema,
    create(ExportMetricsServiceRequestSchema, {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'kept-not',
                  data: {
                    case: 'gauge',
                    value: { dataPoints: [{ timeUnixNano: 1n, value: { case: 'asInt', value: 1n } }] },
                  },
                },
                { name: 'x' },
              ],
            },
          ],
        },
      ],
    }),
  );
  const noData = await grpcCall(metricsPath, message, ingest);
  assert.deepEqual(noData, {
    status: '3',
    message:
      'resourceMetrics[0].scopeMetrics[0].metrics[1]: expected its data (gauge, sum, histogram, exponentialHistogram or summary)',
  });
  assert.deepEqual(viaGrpc.otlpMetrics.list().series, [], 'nothing of a refused message is kept');
});
