/**
 * Targets (h) and (i): berth's processes with the SDK registered as sdk.ts does,
 * but with an exporter that drops every batch, so that what tracing costs can be
 * told apart from what exporting costs. (h), always_on: spans made, recorded and
 * batched, none sent. (i), always_off: spans made and propagated, none recorded —
 * the SDK's floor. No OTLP endpoint is set, so the process's own startTracing
 * leaves the registration below as it is.
 */
import type { ExportResultCode } from '@opentelemetry/core';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Tracing } from '../../src/telemetry/sdk.ts';

/**
 * ExportResultCode.SUCCESS, not imported: (c)'s untraced processes load this file
 * too, and @opentelemetry/core would add its megabytes to their idle RSS.
 */
const success = 0 satisfies ExportResultCode.SUCCESS;

export const droppingExporter: SpanExporter = {
  export: (_spans, done) => done({ code: success }),
  shutdown: async () => {},
};

/** Registers the SDK with the dropping exporter when BENCH_SPANS=dropped. */
export async function dropSpansWhenAsked(serviceName: string): Promise<Tracing | undefined> {
  if (process.env.BENCH_SPANS !== 'dropped') return undefined;
  const { registerTracing } = await import('../../src/telemetry/sdk.ts');
  return registerTracing({ serviceName, exporters: [droppingExporter] });
}
