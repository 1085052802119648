/**
 * The real OpenTelemetry SDK, registered for one test file as a process entry
 * registers it (src/telemetry/sdk.ts), exporting each span to memory as it ends, so
 * a test reads the spans berth made. stop() unregisters everything again.
 */
import type { SpanContext } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { registerTracing } from '../../src/telemetry/sdk.ts';

export interface TestTracing {
  /** Spans ended so far. */
  spans(): ReadableSpan[];
  stop(): Promise<void>;
}

export function registerTestTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const tracing = registerTracing({ serviceName: 'test', exporters: [exporter], processing: 'simple' });
  return { spans: () => exporter.getFinishedSpans(), stop: () => tracing.shutdown() };
}

/** Whether `span`'s parent is the span of `parent`. */
export function isChildOf(span: ReadableSpan, parent: SpanContext | ReadableSpan): boolean {
  const expected = 'spanContext' in parent ? parent.spanContext() : parent;
  return (
    span.parentSpanContext?.spanId === expected.spanId && span.spanContext().traceId === expected.traceId
  );
}
