/**
 * The real OpenTelemetry SDK, registered for one test file as a process entry would
 * register it: a NodeTracerProvider (AsyncLocalStorage context manager, W3C trace
 * context and baggage propagators) exporting to memory, so a test reads the spans
 * berth made. stop() unregisters everything again.
 */
import { context, propagation, type SpanContext, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TestTracing {
  /** Spans ended so far. */
  spans(): ReadableSpan[];
  stop(): Promise<void>;
}

export function registerTestTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  return {
    spans: () => exporter.getFinishedSpans(),
    async stop() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** Whether `span`'s parent is the span of `parent`. */
export function isChildOf(span: ReadableSpan, parent: SpanContext | ReadableSpan): boolean {
  const expected = 'spanContext' in parent ? parent.spanContext() : parent;
  return (
    span.parentSpanContext?.spanId === expected.spanId && span.spanContext().traceId === expected.traceId
  );
}
