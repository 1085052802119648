/**
 * A trace with what OTLP carries — kinds, attributes of each type, a link, an
 * event, an error status — exported through the real SDK to every exporter given,
 * from one provider, so the very same spans reach each receiver under test.
 */
import { context, type SpanContext, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

export interface SampleTrace {
  /** The SERVER span `VesselService/FindAvailable` (status code attribute 13, linked to `linked`). */
  readonly parent: SpanContext;
  /** A span of another trace, which `parent` links to. */
  readonly linked: SpanContext;
}

/** Its CLIENT child is `SELECT vessels`: three attribute types, an event `retry`, status ERROR "the disk is gone". */
export async function exportSampleTrace(
  serviceName: string,
  exporters: SpanExporter[],
): Promise<SampleTrace> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: exporters.map((exporter) => new SimpleSpanProcessor(exporter)),
  });
  const tracer = provider.getTracer('berth-dashboard-test');
  const linked = tracer.startSpan('earlier');
  linked.end();
  const parent = tracer.startSpan('VesselService/FindAvailable', {
    kind: SpanKind.SERVER,
    attributes: { 'rpc.service': 'shippy.vessel.v1.VesselService', 'rpc.grpc.status_code': 13 },
    links: [{ context: linked.spanContext() }],
  });
  const child = tracer.startSpan(
    'SELECT vessels',
    { kind: SpanKind.CLIENT, attributes: { 'db.rows': 2.5, 'db.cached': false, 'db.tags': ['a', 'b'] } },
    trace.setSpan(context.active(), parent),
  );
  child.addEvent('retry', { attempt: 2 });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'the disk is gone' });
  child.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  return { parent: parent.spanContext(), linked: linked.spanContext() };
}
