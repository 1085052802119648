/**
 * POST /v1/logs fed by the real OpenTelemetry logs exporters, as a service beside
 * berth's (a Node one here; Go's and Python's send the same OTLP) would send its
 * logs: JSON and protobuf, gzip or not, with the ingest token in the exporter's
 * headers. Each record is a line of the Logs page with its service, level, text
 * and the ids of the span it was logged in. One batch per exporter (the SDK's
 * default processor), so the lines keep the order they were logged in.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtobufLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import type { LogLine } from '../../src/dashboard/log-buffer.ts';
import { idleRuntime } from './support/idle-runtime.ts';

let dashboard: Dashboard;
before(async () => {
  dashboard = await Dashboard.start({ runtime: idleRuntime });
});
after(() => dashboard.close());

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';

const exporters = {
  json: JsonLogExporter,
  protobuf: ProtobufLogExporter,
};

async function logsOf(service: string): Promise<LogLine[]> {
  const answer = await fetch(`${dashboard.url}/api/logs?service=${service}`, {
    headers: { authorization: `Bearer ${dashboard.token}` },
  });
  return ((await answer.json()) as { lines: LogLine[] }).lines;
}

for (const [encoding, Exporter] of Object.entries(exporters)) {
  for (const compression of ['none', 'gzip'] as CompressionAlgorithm[]) {
    test(`the real ${encoding} logs exporter (compression ${compression}): service, level, text and span of each record`, async () => {
      const service = `payments-${encoding}-${compression}`;
      const provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'service.name': service }),
        processors: [
          new BatchLogRecordProcessor({
            exporter: new Exporter({
              url: `${dashboard.url}/v1/logs`,
              headers: { authorization: `Bearer ${dashboard.ingestToken}` },
              compression,
            }),
          }),
        ],
      });
      const logger = provider.getLogger('payments');
      const inSpan = trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: 1 });
      logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'charging card' });
      logger.emit({
        severityNumber: SeverityNumber.WARN,
        severityText: 'WARN',
        body: 'card declined, retrying',
        context: inSpan,
      });
      logger.emit({ severityNumber: SeverityNumber.ERROR, body: 'gave up', attributes: { code: 'E42' } });
      await provider.forceFlush();
      await provider.shutdown();

      const lines = await logsOf(service);
      assert.deepEqual(
        lines.map((line) => [
          line.service,
          line.level,
          line.message,
          line.traceId ?? null,
          line.spanId ?? null,
        ]),
        [
          [service, 'info', 'charging card', null, null],
          [service, 'warn', 'card declined, retrying', traceId, spanId],
          [service, 'error', 'gave up', null, null],
        ],
      );
    });
  }
}
