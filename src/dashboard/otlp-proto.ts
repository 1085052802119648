/**
 * OTLP/HTTP with protobuf encoding, the default of the standard SDKs (Go, Python,
 * Java, JavaScript's `http/protobuf`): a binary ExportTraceServiceRequest or
 * ExportLogsServiceRequest (proto/opentelemetry, generated into src/gen/opentelemetry),
 * read into the same flat spans and log lines as the JSON mapping (otlp-json.ts,
 * both through otlp-records.ts), so the store and views take either. A body that is
 * not such a message, or whose ids have the wrong length, is an OtlpInputError
 * naming what is wrong.
 */
import { type DescMessage, fromBinary, type MessageShape, toJsonString } from '@bufbuild/protobuf';
import {
  type ExportLogsServiceRequest,
  ExportLogsServiceRequestSchema,
} from '../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import {
  type ExportTraceServiceRequest,
  ExportTraceServiceRequestSchema,
} from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import {
  type AnyValue,
  AnyValueSchema,
  type KeyValue,
} from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import type { LogRecord } from '../gen/opentelemetry/proto/logs/v1/logs_pb.js';
import type { Span } from '../gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { LogEntry } from './log-buffer.ts';
import { type AttributeValue, OtlpInputError, type SpanRecord } from './otlp-json.ts';
import { type DecodedLogRecord, type DecodedSpan, logEntry, nanosToMs, spanRecord } from './otlp-records.ts';

/** The spans of a binary ExportTraceServiceRequest; throws OtlpInputError. */
export function readOtlpTracesProto(body: Uint8Array): SpanRecord[] {
  return spansOfExport(decode(ExportTraceServiceRequestSchema, body));
}

/** The spans of an ExportTraceServiceRequest already decoded (the gRPC receiver's, otlp-grpc.ts); throws OtlpInputError. */
export function spansOfExport(request: ExportTraceServiceRequest): SpanRecord[] {
  const records: SpanRecord[] = [];
  for (const [r, resourceSpans] of request.resourceSpans.entries()) {
    const resource = attributes(resourceSpans.resource?.attributes ?? []);
    for (const [s, scopeSpans] of resourceSpans.scopeSpans.entries()) {
      for (const [i, one] of scopeSpans.spans.entries()) {
        records.push(spanRecord(span(one, `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`), resource));
      }
    }
  }
  return records;
}

/** The log records of a binary ExportLogsServiceRequest; throws OtlpInputError. */
export function readOtlpLogsProto(body: Uint8Array): LogEntry[] {
  return logEntriesOfExport(decode(ExportLogsServiceRequestSchema, body));
}

/** The log records of an ExportLogsServiceRequest already decoded; throws OtlpInputError. */
export function logEntriesOfExport(request: ExportLogsServiceRequest): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const [r, resourceLogs] of request.resourceLogs.entries()) {
    const resource = attributes(resourceLogs.resource?.attributes ?? []);
    for (const [s, scopeLogs] of resourceLogs.scopeLogs.entries()) {
      for (const [i, one] of scopeLogs.logRecords.entries()) {
        entries.push(
          logEntry(logRecord(one, `resourceLogs[${r}].scopeLogs[${s}].logRecords[${i}]`), resource),
        );
      }
    }
  }
  return entries;
}

/** A binary message of `schema`; anything else an OtlpInputError naming the message expected. */
export function decode<Desc extends DescMessage>(schema: Desc, body: Uint8Array): MessageShape<Desc> {
  try {
    return fromBinary(schema, body);
  } catch (error) {
    const name = schema.typeName.split('.').pop();
    throw new OtlpInputError(`the body is not a protobuf ${name}: ${(error as Error).message}`);
  }
}

function span(s: Span, path: string): DecodedSpan {
  return {
    traceId: hexId(s.traceId, `${path}.traceId`, 16),
    spanId: hexId(s.spanId, `${path}.spanId`, 8),
    parentSpanId: optionalHexId(s.parentSpanId, `${path}.parentSpanId`, 8),
    name: s.name,
    kind: s.kind,
    startMs: nanosToMs(s.startTimeUnixNano),
    endMs: optionalNanosToMs(s.endTimeUnixNano),
    statusCode: s.status?.code ?? 0,
    statusMessage: s.status?.message,
    attributes: attributes(s.attributes),
    events: s.events.map((event) => ({
      name: event.name,
      timeMs: optionalNanosToMs(event.timeUnixNano),
      attributes: attributes(event.attributes),
    })),
    links: s.links.map((link, i) => ({
      traceId: hexId(link.traceId, `${path}.links[${i}].traceId`, 16),
      spanId: hexId(link.spanId, `${path}.links[${i}].spanId`, 8),
    })),
  };
}

function logRecord(r: LogRecord, path: string): DecodedLogRecord {
  return {
    timeMs: optionalNanosToMs(r.timeUnixNano),
    observedTimeMs: optionalNanosToMs(r.observedTimeUnixNano),
    severityNumber: r.severityNumber,
    severityText: r.severityText,
    body: r.body === undefined ? undefined : anyValue(r.body),
    attributes: attributes(r.attributes),
    traceId: optionalHexId(r.traceId, `${path}.traceId`, 16),
    spanId: optionalHexId(r.spanId, `${path}.spanId`, 8),
  };
}

function hexId(bytes: Uint8Array, path: string, length: number): string {
  if (bytes.length !== length) {
    throw new OtlpInputError(`${path}: expected ${length} bytes, got ${bytes.length}`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Empty: not set (a root span's parent, a log record written outside any span). */
function optionalHexId(bytes: Uint8Array, path: string, length: number): string | undefined {
  return bytes.length === 0 ? undefined : hexId(bytes, path, length);
}

/** Protobuf cannot leave a number out: 0 is unset. */
function optionalNanosToMs(nanos: bigint): number | undefined {
  return nanos === 0n ? undefined : nanosToMs(nanos);
}

export function attributes(list: readonly KeyValue[]): Record<string, AttributeValue> {
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
