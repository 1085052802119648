/**
 * From OTLP's fields, as either encoding decodes them (otlp-json.ts for the JSON
 * mapping, otlp-proto.ts for protobuf), to the dashboard's records: spans for the
 * span store and entries for the log buffer. What OTLP leaves unset (a span's end,
 * an event's time, a log record's time) and its numbered enums (SpanKind,
 * StatusCode, SeverityNumber) are read here once, so that both encodings give the
 * same records; each reader keeps its own checks and error messages.
 */
import { LEVELS, type LogEntry } from './log-buffer.ts';
import type { AttributeValue, SpanRecord, SpanStatus } from './otlp-json.ts';

type Attributes = Readonly<Record<string, AttributeValue>>;

/** A span with its ids as lowercase hex and its times in milliseconds; undefined: not set. */
export interface DecodedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** OTLP's SpanKind number. */
  readonly kind: number;
  readonly startMs: number;
  readonly endMs: number | undefined;
  /** OTLP's StatusCode number. */
  readonly statusCode: number;
  readonly statusMessage: string | undefined;
  readonly attributes: Attributes;
  readonly events: readonly {
    readonly name: string;
    readonly timeMs: number | undefined;
    readonly attributes: Attributes;
  }[];
  readonly links: SpanRecord['links'];
}

/** A log record with its ids as lowercase hex and its times in milliseconds; undefined: not set. */
export interface DecodedLogRecord {
  readonly timeMs: number | undefined;
  readonly observedTimeMs: number | undefined;
  /** OTLP's SeverityNumber (0: unspecified). */
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: AttributeValue | undefined;
  readonly attributes: Attributes;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
}

/** By OTLP's SpanKind and StatusCode numbers. */
const spanKinds = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const spanStatuses: SpanStatus[] = ['unset', 'ok', 'error'];
/** Severity texts of SDKs that leave the number unset, where they differ from the page's levels. */
const severityAliases: Record<string, string> = { warning: 'warn', critical: 'fatal' };

/** Nanoseconds since the epoch as milliseconds, to the microsecond. */
export function nanosToMs(nanos: bigint): number {
  return Number(nanos / 1000n) / 1000;
}

/** The `service.name` of a resource's attributes; `?` without one. */
export function serviceOf(resource: Attributes): string {
  return String(resource['service.name'] ?? '?');
}

export function spanRecord(span: DecodedSpan, resource: Attributes): SpanRecord {
  // An unset end reads as the start: an exporter that sends no end sent an instant.
  const endMs = span.endMs ?? span.startMs;
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: spanKinds[span.kind] ?? 'unspecified',
    service: serviceOf(resource),
    startMs: span.startMs,
    durationMs: Math.max(0, endMs - span.startMs),
    status: spanStatuses[span.statusCode] ?? 'unset',
    statusMessage: span.statusMessage || undefined,
    attributes: span.attributes,
    resource,
    events: span.events.map((event) => ({
      name: event.name,
      timeMs: event.timeMs ?? span.startMs,
      attributes: event.attributes,
    })),
    links: span.links,
  };
}

/**
 * A log record as a line of the Logs page: its resource's service (and instance,
 * `service.instance.id` when the resource names one), level, body as the message,
 * and ids to link it to its trace. Its raw text, which the page's text filter
 * searches, is the record as JSON with its attributes.
 */
export function logEntry(record: DecodedLogRecord, resource: Attributes): LogEntry {
  const service = serviceOf(resource);
  const level = levelOf(record.severityNumber, record.severityText);
  const message = textOf(record.body);
  return {
    instance: String(resource['service.instance.id'] ?? service),
    service,
    // Neither time set (both are optional in OTLP): it is new, as a line read from a process is.
    timeMs: record.timeMs ?? record.observedTimeMs ?? Date.now(),
    level,
    message,
    traceId: record.traceId,
    spanId: record.spanId,
    // The attributes first: one named like a field below does not hide that field.
    raw: JSON.stringify({
      ...record.attributes,
      level: record.severityText || level,
      msg: message,
      trace_id: record.traceId,
      span_id: record.spanId,
    }),
  };
}

/** SeverityNumber 1–24, four to a level (TRACE … FATAL4), as the page's levels; unset, the text in lower case. */
function levelOf(severityNumber: number, severityText: string): string {
  if (severityNumber >= 1 && severityNumber <= 24) return LEVELS[Math.floor((severityNumber - 1) / 4)]!;
  const text = severityText.toLowerCase();
  return severityAliases[text] ?? text;
}

/** A body that is not a string (a map, a list, a number) as JSON text. */
function textOf(body: AttributeValue | undefined): string {
  if (body === undefined) return '';
  return typeof body === 'string' ? body : JSON.stringify(body);
}
