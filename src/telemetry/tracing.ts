/**
 * What process entries call (run-main.ts, the gateway's main.ts): tracing as the
 * standard OpenTelemetry variables say (tracing-env.ts), with the SDK and the one
 * exporter needed loaded only then, so a process that does not trace starts and
 * runs as it would without OpenTelemetry.
 *
 *   OTEL_TRACES_EXPORTER         otlp | console | none (comma list); default otlp once an endpoint is set
 *   OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS
 *   OTEL_EXPORTER_OTLP_PROTOCOL  http/protobuf (default) | http/json | grpc
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_SCHEDULE_DELAY
 *   OTEL_SDK_DISABLED=true       off, whatever else is set
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Tracing } from './sdk.ts';
import { type Env, type OtlpProtocol, type TracingSettings, tracingSettingsFromEnv } from './tracing-env.ts';

export type { Tracing };

const off: Tracing = { shutdown: async () => {} };

/**
 * Starts tracing when the variables ask for it; a Tracing to shut down at exit
 * either way. Throws TracingSettingError naming a variable it cannot take.
 */
export async function startTracing(env: Env, defaults: { readonly serviceName: string }): Promise<Tracing> {
  const settings = tracingSettingsFromEnv(env);
  if (settings === undefined) return off;
  const [{ registerTracing }, exporters] = await Promise.all([import('./sdk.ts'), exportersFor(settings)]);
  return registerTracing({ serviceName: defaults.serviceName, exporters });
}

/** The exporters read their endpoint and headers from OTEL_EXPORTER_OTLP_* themselves. */
async function exportersFor(settings: TracingSettings): Promise<SpanExporter[]> {
  return Promise.all(
    settings.exporters.map(async (kind) => {
      if (kind === 'console') {
        const { ConsoleSpanExporter } = await import('@opentelemetry/sdk-trace-base');
        return new ConsoleSpanExporter();
      }
      return otlpExporter(settings.protocol);
    }),
  );
}

async function otlpExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  switch (protocol) {
    case 'http/json':
      return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    case 'grpc':
      return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
    case 'http/protobuf':
      return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  }
}
