/**
 * The OpenTelemetry SDK, registered for the whole process: a NodeTracerProvider
 * (AsyncLocalStorage context manager, W3C trace context and baggage propagators),
 * whose sampler and batch settings the SDK reads from OTEL_TRACES_SAMPLER(_ARG)
 * and OTEL_BSP_*, and a resource named after the process unless OTEL_SERVICE_NAME
 * or OTEL_RESOURCE_ATTRIBUTES say otherwise. Loaded only when tracing is on.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { setActiveTracing } from './active.ts';
import { RpcTracing } from './rpc-tracing.ts';

export interface TracingOptions {
  /** `service.name` when OTEL_SERVICE_NAME sets none: the berth service's name, or `gateway`. */
  readonly serviceName: string;
  readonly exporters: readonly SpanExporter[];
  /** `simple` exports each span as it ends (tests); default `batch`, as OTEL_BSP_* configure it. */
  readonly processing?: 'batch' | 'simple';
}

export interface Tracing {
  /** Exports what is buffered and unregisters the SDK; the hot paths stop tracing at once. */
  shutdown(): Promise<void>;
}

export function registerTracing(options: TracingOptions): Tracing {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': options.serviceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const spanProcessors: SpanProcessor[] = options.exporters.map((exporter) =>
    options.processing === 'simple' ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter),
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors });
  provider.register({
    propagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  });
  setActiveTracing(new RpcTracing(provider.getTracer('berth')));
  return {
    async shutdown() {
      setActiveTracing(undefined);
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
