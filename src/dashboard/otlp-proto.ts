/**
 * OTLP/HTTP with protobuf encoding, the default of the standard SDKs (Go, Python,
 * Java, JavaScript's `http/protobuf`): a binary ExportTraceServiceRequest
 * (proto/opentelemetry, generated into src/gen/opentelemetry), read into the same
 * flat spans as the JSON mapping (otlp-json.ts), so the store and views take
 * either. A body that is not such a message, or whose ids have the wrong length,
 * is an OtlpInputError naming what is wrong.
 */
import { fromBinary, toJsonString } from '@bufbuild/protobuf';
import { ExportTraceServiceRequestSchema } from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import {
  type AnyValue,
  AnyValueSchema,
  type KeyValue,
} from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import type { Span } from '../gen/opentelemetry/proto/trace/v1/trace_pb.js';
import {
  type AttributeValue,
  OtlpInputError,
  type SpanRecord,
  spanKinds,
  spanStatuses,
} from './otlp-json.ts';

/** The spans of a binary ExportTraceServiceRequest; throws OtlpInputError. */
export function readOtlpTracesProto(body: Uint8Array): SpanRecord[] {
  let request: ReturnType<typeof fromBinary<typeof ExportTraceServiceRequestSchema>>;
  try {
    request = fromBinary(ExportTraceServiceRequestSchema, body);
  } catch (error) {
    throw new OtlpInputError(
      `the body is not a protobuf ExportTraceServiceRequest: ${(error as Error).message}`,
    );
  }
  const spans: SpanRecord[] = [];
  for (const [r, resourceSpans] of request.resourceSpans.entries()) {
    const service = String(attributes(resourceSpans.resource?.attributes ?? [])['service.name'] ?? '?');
    for (const [s, scopeSpans] of resourceSpans.scopeSpans.entries()) {
      for (const [i, one] of scopeSpans.spans.entries()) {
        spans.push(span(one, `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`, service));
      }
    }
  }
  return spans;
}

function span(s: Span, path: string, service: string): SpanRecord {
  const startMs = nanosAsMs(s.startTimeUnixNano);
  // An unset end (0) reads as the start, as the JSON receiver reads a missing one.
  const endMs = s.endTimeUnixNano === 0n ? startMs : nanosAsMs(s.endTimeUnixNano);
  return {
    traceId: hexId(s.traceId, `${path}.traceId`, 16),
    spanId: hexId(s.spanId, `${path}.spanId`, 8),
    parentSpanId: s.parentSpanId.length === 0 ? undefined : hexId(s.parentSpanId, `${path}.parentSpanId`, 8),
    name: s.name,
    kind: spanKinds[s.kind] ?? 'unspecified',
    service,
    startMs,
    durationMs: Math.max(0, endMs - startMs),
    status: spanStatuses[s.status?.code ?? 0] ?? 'unset',
    statusMessage: s.status?.message || undefined,
    attributes: attributes(s.attributes),
    events: s.events.map((event) => ({
      name: event.name,
      timeMs: event.timeUnixNano === 0n ? startMs : nanosAsMs(event.timeUnixNano),
      attributes: attributes(event.attributes),
    })),
    links: s.links.map((link, i) => ({
      traceId: hexId(link.traceId, `${path}.links[${i}].traceId`, 16),
      spanId: hexId(link.spanId, `${path}.links[${i}].spanId`, 8),
    })),
  };
}

function hexId(bytes: Uint8Array, path: string, length: number): string {
  if (bytes.length !== length) {
    throw new OtlpInputError(`${path}: expected ${length} bytes, got ${bytes.length}`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function nanosAsMs(nanos: bigint): number {
  return Number(nanos / 1000n) / 1000;
}

function attributes(list: readonly KeyValue[]): Record<string, AttributeValue> {
  const result: Record<string, AttributeValue> = {};
  for (const { key, value } of list) result[key] = value === undefined ? '' : anyValue(value);
  return result;
}

/** As otlp-json.ts reads the JSON mapping: maps and bytes as their OTLP JSON text, profiles' string indexes as empty. */
function anyValue(v: AnyValue): AttributeValue {
  switch (v.value.case) {
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
      return v.value.value;
    case 'intValue':
      return Number(v.value.value);
    case 'arrayValue':
      return v.value.value.values.map(anyValue);
    case 'kvlistValue':
    case 'bytesValue':
      return toJsonString(AnyValueSchema, v);
    default:
      return '';
  }
}
