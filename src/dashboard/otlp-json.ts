/**
 * OTLP/HTTP with JSON encoding (the OTLP JSON mapping of ExportTraceServiceRequest):
 * `resourceSpans[].scopeSpans[].spans[]`, ids as hex, times as decimal strings of
 * nanoseconds, attributes as `{key, value: {stringValue | intValue | …}}`. Read into
 * flat spans; anything that is not that shape is an OtlpInputError naming the field.
 */

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
  readonly events: readonly SpanEvent[];
  /** Trace ids of linked spans (a consumer linked to its producer). */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
}

export class OtlpInputError extends Error {}

/** By OTLP's SpanKind and StatusCode numbers, in either encoding. */
export const spanKinds = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
export const spanStatuses: SpanStatus[] = ['unset', 'ok', 'error'];

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

function optionalHexId(value: unknown, path: string): string | undefined {
  return value === undefined || value === '' ? undefined : hexId(value, path, 16);
}

/** Nanoseconds since the epoch (a decimal string, or a number) as milliseconds. */
function nanosAsMs(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value / 1e6;
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return Number(BigInt(value) / 1000n) / 1000;
  fail(path, 'nanoseconds since the epoch (a decimal string)');
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

function span(value: unknown, path: string, service: string): SpanRecord {
  const s = object(value, path);
  if (typeof s.name !== 'string') fail(`${path}.name`, 'a string');
  const startMs = nanosAsMs(s.startTimeUnixNano, `${path}.startTimeUnixNano`);
  const endMs = nanosAsMs(s.endTimeUnixNano ?? s.startTimeUnixNano, `${path}.endTimeUnixNano`);
  const status = s.status === undefined ? {} : object(s.status, `${path}.status`);
  const code = Number(status.code ?? 0);
  return {
    traceId: hexId(s.traceId, `${path}.traceId`, 32),
    spanId: hexId(s.spanId, `${path}.spanId`, 16),
    parentSpanId: optionalHexId(s.parentSpanId, `${path}.parentSpanId`),
    name: s.name,
    kind: spanKinds[Number(s.kind ?? 0)] ?? 'unspecified',
    service,
    startMs,
    durationMs: Math.max(0, endMs - startMs),
    status: spanStatuses[code] ?? 'unset',
    statusMessage: typeof status.message === 'string' && status.message !== '' ? status.message : undefined,
    attributes: attributes(s.attributes, `${path}.attributes`),
    events: list(s.events, `${path}.events`).map((item, i) => {
      const event = object(item, `${path}.events[${i}]`);
      return {
        name: String(event.name ?? ''),
        timeMs: nanosAsMs(event.timeUnixNano ?? s.startTimeUnixNano, `${path}.events[${i}].timeUnixNano`),
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

/** The spans of an ExportTraceServiceRequest in the OTLP JSON mapping; throws OtlpInputError. */
export function readOtlpTraces(body: unknown): SpanRecord[] {
  const request = object(body, 'request');
  const spans: SpanRecord[] = [];
  for (const [r, item] of list(request.resourceSpans, 'resourceSpans').entries()) {
    const path = `resourceSpans[${r}]`;
    const resourceSpans = object(item, path);
    const resource =
      resourceSpans.resource === undefined ? {} : object(resourceSpans.resource, `${path}.resource`);
    const service = String(
      attributes(resource.attributes, `${path}.resource.attributes`)['service.name'] ?? '?',
    );
    for (const [s, scope] of list(resourceSpans.scopeSpans, `${path}.scopeSpans`).entries()) {
      const scopePath = `${path}.scopeSpans[${s}]`;
      const scopeSpans = object(scope, scopePath);
      for (const [i, one] of list(scopeSpans.spans, `${scopePath}.spans`).entries()) {
        spans.push(span(one, `${scopePath}.spans[${i}]`, service));
      }
    }
  }
  return spans;
}
