/**
 * OTLP/HTTP with JSON encoding (the OTLP JSON mapping of ExportTraceServiceRequest
 * and ExportLogsServiceRequest): `resourceSpans[].scopeSpans[].spans[]`,
 * `resourceLogs[].scopeLogs[].logRecords[]`, ids as hex, times as decimal strings
 * of nanoseconds, attributes as `{key, value: {stringValue | intValue | …}}`. Read
 * into flat spans and log lines (otlp-records.ts); anything that is not that shape
 * is an OtlpInputError naming the field.
 */
import type { LogEntry } from './log-buffer.ts';
import { type DecodedLogRecord, type DecodedSpan, logEntry, nanosToMs, spanRecord } from './otlp-records.ts';

export type SpanStatus = 'unset' | 'ok' | 'error';
export type AttributeValue = string | number | boolean | readonly AttributeValue[];

export interface SpanEvent {
  readonly name: string;
  readonly timeMs: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** internal, server, client, producer, consumer. */
  readonly kind: string;
  /** `service.name` of the resource. */
  readonly service: string;
  readonly startMs: number;
  readonly durationMs: number;
  readonly status: SpanStatus;
  readonly statusMessage: string | undefined;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** Its resource's attributes (`service.name`, `service.instance.id`, …), shared by the spans of one resource. */
  readonly resource: Readonly<Record<string, AttributeValue>>;
  readonly events: readonly SpanEvent[];
  /** Trace ids of linked spans (a consumer linked to its producer). */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
}

export class OtlpInputError extends Error {}

type Json = Record<string, unknown>;

function fail(path: string, expected: string): never {
  throw new OtlpInputError(`${path}: expected ${expected}`);
}

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object');
  return value as Json;
}

function list(value: unknown, path: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(path, 'an array');
  return value;
}

function hexId(value: unknown, path: string, digits: number): string {
  if (typeof value !== 'string' || value.length !== digits || !/^[0-9a-fA-F]+$/.test(value)) {
    fail(path, `${digits} hex digits`);
  }
  return value.toLowerCase();
}

/** Absent or empty: not set (a root span's parent, a log record written outside any span). */
function optionalHexId(value: unknown, path: string, digits: number): string | undefined {
  return value === undefined || value === '' ? undefined : hexId(value, path, digits);
}

/** Nanoseconds since the epoch (a decimal string, or a number) as milliseconds. */
function nanosAsMs(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value / 1e6;
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return nanosToMs(BigInt(value));
  fail(path, 'nanoseconds since the epoch (a decimal string)');
}

/** Absent (OTLP JSON leaves out what is unset) or 0: not set. */
function optionalNanosAsMs(value: unknown, path: string): number | undefined {
  return value === undefined ? undefined : nanosAsMs(value, path) || undefined;
}

function anyValue(value: unknown, path: string): AttributeValue {
  const v = object(value, path);
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (typeof v.doubleValue === 'number') return v.doubleValue;
  if (v.arrayValue !== undefined) {
    const values = list(object(v.arrayValue, `${path}.arrayValue`).values, `${path}.arrayValue.values`);
    return values.map((item, i) => anyValue(item, `${path}.arrayValue.values[${i}]`));
  }
  if (v.kvlistValue !== undefined || v.bytesValue !== undefined) return JSON.stringify(v);
  return '';
}

function attributes(value: unknown, path: string): Record<string, AttributeValue> {
  const result: Record<string, AttributeValue> = {};
  for (const [i, item] of list(value, path).entries()) {
    const attribute = object(item, `${path}[${i}]`);
    if (typeof attribute.key !== 'string') fail(`${path}[${i}].key`, 'a string');
    result[attribute.key] = anyValue(attribute.value ?? {}, `${path}[${i}].value`);
  }
  return result;
}

function span(value: unknown, path: string): DecodedSpan {
  const s = object(value, path);
  if (typeof s.name !== 'string') fail(`${path}.name`, 'a string');
  const startMs = nanosAsMs(s.startTimeUnixNano, `${path}.startTimeUnixNano`);
  const endMs = optionalNanosAsMs(s.endTimeUnixNano, `${path}.endTimeUnixNano`);
  const status = s.status === undefined ? {} : object(s.status, `${path}.status`);
  return {
    traceId: hexId(s.traceId, `${path}.traceId`, 32),
    spanId: hexId(s.spanId, `${path}.spanId`, 16),
    parentSpanId: optionalHexId(s.parentSpanId, `${path}.parentSpanId`, 16),
    name: s.name,
    kind: Number(s.kind ?? 0),
    startMs,
    endMs,
    statusCode: Number(status.code ?? 0),
    statusMessage: typeof status.message === 'string' ? status.message : undefined,
    attributes: attributes(s.attributes, `${path}.attributes`),
    events: list(s.events, `${path}.events`).map((item, i) => {
      const event = object(item, `${path}.events[${i}]`);
      return {
        name: String(event.name ?? ''),
        timeMs: optionalNanosAsMs(event.timeUnixNano, `${path}.events[${i}].timeUnixNano`),
        attributes: attributes(event.attributes, `${path}.events[${i}].attributes`),
      };
    }),
    links: list(s.links, `${path}.links`).map((item, i) => {
      const link = object(item, `${path}.links[${i}]`);
      return {
        traceId: hexId(link.traceId, `${path}.links[${i}].traceId`, 32),
        spanId: hexId(link.spanId, `${path}.links[${i}].spanId`, 16),
      };
    }),
  };
}

function logRecord(value: unknown, path: string): DecodedLogRecord {
  const r = object(value, path);
  const severityNumber = r.severityNumber ?? 0;
  if (typeof severityNumber !== 'number' || !Number.isInteger(severityNumber)) {
    fail(`${path}.severityNumber`, 'an integer (OTLP JSON writes enums as numbers)');
  }
  const severityText = r.severityText ?? '';
  if (typeof severityText !== 'string') fail(`${path}.severityText`, 'a string');
  return {
    timeMs: optionalNanosAsMs(r.timeUnixNano, `${path}.timeUnixNano`),
    observedTimeMs: optionalNanosAsMs(r.observedTimeUnixNano, `${path}.observedTimeUnixNano`),
    severityNumber,
    severityText,
    body: r.body === undefined ? undefined : anyValue(r.body, `${path}.body`),
    attributes: attributes(r.attributes, `${path}.attributes`),
    traceId: optionalHexId(r.traceId, `${path}.traceId`, 32),
    spanId: optionalHexId(r.spanId, `${path}.spanId`, 16),
  };
}

/**
 * `read` of each item of `request[resources][].[scopes][].[items][]`, with its path
 * and its resource's attributes: the layout both signals share.
 */
function eachItem<T>(
  body: unknown,
  [resources, scopes, items]: readonly [string, string, string],
  read: (item: unknown, path: string, resource: Record<string, AttributeValue>) => T,
): T[] {
  const request = object(body, 'request');
  const found: T[] = [];
  for (const [r, one] of list(request[resources], resources).entries()) {
    const path = `${resources}[${r}]`;
    const resourceItems = object(one, path);
    const resource =
      resourceItems.resource === undefined ? {} : object(resourceItems.resource, `${path}.resource`);
    const resourceAttributes = attributes(resource.attributes, `${path}.resource.attributes`);
    for (const [s, scope] of list(resourceItems[scopes], `${path}.${scopes}`).entries()) {
      const scopePath = `${path}.${scopes}[${s}]`;
      const scopeItems = object(scope, scopePath);
      for (const [i, item] of list(scopeItems[items], `${scopePath}.${items}`).entries()) {
        found.push(read(item, `${scopePath}.${items}[${i}]`, resourceAttributes));
      }
    }
  }
  return found;
}

/** The spans of an ExportTraceServiceRequest in the OTLP JSON mapping; throws OtlpInputError. */
export function readOtlpTraces(body: unknown): SpanRecord[] {
  return eachItem(body, ['resourceSpans', 'scopeSpans', 'spans'], (item, path, resource) =>
    spanRecord(span(item, path), resource),
  );
}

/** The log records of an ExportLogsServiceRequest in the OTLP JSON mapping; throws OtlpInputError. */
export function readOtlpLogs(body: unknown): LogEntry[] {
  return eachItem(body, ['resourceLogs', 'scopeLogs', 'logRecords'], (item, path, resource) =>
    logEntry(logRecord(item, path), resource),
  );
}
