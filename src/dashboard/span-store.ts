/**
 * The spans the dashboard received, in memory and bounded: at most `maxTraces`
 * traces and `maxSpans` spans in all (oldest trace dropped first), and at most
 * `maxSpansPerTrace` per trace (later ones counted, not kept), each span's strings
 * cut at `maxValueChars` and its events at `maxEventsPerSpan`, so a chatty or
 * hostile exporter cannot grow the runner's heap without end. A span received
 * again (exporters retry a batch whose answer they missed) is kept once.
 */
import { type AttributeFilter, matchesAll } from './attribute-filter.ts';
import type { AttributeValue, SpanRecord } from './otlp-json.ts';

export interface SpanStoreLimits {
  readonly maxTraces: number;
  readonly maxSpans: number;
  readonly maxSpansPerTrace: number;
  /** Longest string kept (attribute values, names, status messages); longer ones are cut, with `…`. */
  readonly maxValueChars: number;
  readonly maxEventsPerSpan: number;
}

export const DEFAULT_SPAN_LIMITS: SpanStoreLimits = {
  maxTraces: 1000,
  maxSpans: 50_000,
  maxSpansPerTrace: 2000,
  maxValueChars: 4096,
  maxEventsPerSpan: 128,
};

export interface TraceSummary {
  readonly traceId: string;
  /**
   * What the root span (no parent, or a parent never received; else the earliest)
   * did: its RPC (`VesselService.FindAvailable`) when it names one, else its name.
   */
  readonly root: string;
  readonly rootService: string;
  readonly services: readonly string[];
  readonly startMs: number;
  readonly durationMs: number;
  readonly spanCount: number;
  readonly errorCount: number;
  /** Spans past maxSpansPerTrace that were dropped. */
  readonly droppedSpans: number;
}

interface StoredTrace {
  readonly spans: SpanRecord[];
  /** Span ids kept, to drop a span received twice. */
  readonly ids: Set<string>;
  dropped: number;
}

export interface TraceQuery {
  readonly service?: string;
  readonly errors?: boolean;
  /** Each must match one of the trace's spans (attribute-filter.ts). */
  readonly attributes?: readonly AttributeFilter[];
  readonly limit?: number;
}

export class SpanStore {
  readonly #limits: SpanStoreLimits;
  /** Insertion order = age: Map iteration gives the oldest first. */
  readonly #traces = new Map<string, StoredTrace>();
  #spanCount = 0;

  /** Each limit left out is its DEFAULT_SPAN_LIMITS value. */
  constructor(limits: Partial<SpanStoreLimits> = {}) {
    this.#limits = { ...DEFAULT_SPAN_LIMITS, ...limits };
  }

  get spanCount(): number {
    return this.#spanCount;
  }

  add(spans: readonly SpanRecord[]): void {
    // The spans of one resource share its attributes; bounded, they still share one copy.
    const resources = new Map<SpanRecord['resource'], SpanRecord['resource']>();
    for (const span of spans) {
      let trace = this.#traces.get(span.traceId);
      if (!trace) {
        trace = { spans: [], ids: new Set(), dropped: 0 };
        this.#traces.set(span.traceId, trace);
      }
      if (trace.ids.has(span.spanId)) continue;
      if (trace.spans.length >= this.#limits.maxSpansPerTrace) {
        trace.dropped += 1;
        continue;
      }
      trace.ids.add(span.spanId);
      trace.spans.push(bounded(span, this.#limits, resources));
      this.#spanCount += 1;
    }
    while (this.#traces.size > this.#limits.maxTraces || this.#spanCount > this.#limits.maxSpans) {
      const [oldest, trace] = this.#traces.entries().next().value!;
      this.#traces.delete(oldest);
      this.#spanCount -= trace.spans.length;
    }
  }

  /** The spans of one trace, by start time; undefined when it is not (or no longer) kept. */
  trace(traceId: string): SpanRecord[] | undefined {
    const trace = this.#traces.get(traceId.toLowerCase());
    return trace && [...trace.spans].sort((a, b) => a.startMs - b.startMs);
  }

  /** The newest traces first, filtered. */
  list(query: TraceQuery = {}): TraceSummary[] {
    const summaries: TraceSummary[] = [];
    for (const [traceId, trace] of [...this.#traces].reverse()) {
      const summary = summarise(traceId, trace);
      if (query.service !== undefined && !summary.services.includes(query.service)) continue;
      if (query.errors && summary.errorCount === 0) continue;
      if (query.attributes && !matchesAll(trace.spans, query.attributes)) continue;
      summaries.push(summary);
    }
    summaries.sort((a, b) => b.startMs - a.startMs);
    return summaries.slice(0, query.limit ?? 100);
  }
}

/** The span with its strings and events within the limits; `resources`: its resource already bounded, by the one given. */
function bounded(
  span: SpanRecord,
  limits: SpanStoreLimits,
  resources: Map<SpanRecord['resource'], SpanRecord['resource']>,
): SpanRecord {
  const cut = (text: string) =>
    text.length > limits.maxValueChars ? `${text.slice(0, limits.maxValueChars)}…` : text;
  const value = (item: AttributeValue): AttributeValue =>
    typeof item === 'string' ? cut(item) : Array.isArray(item) ? item.map(value) : item;
  const attributes = (record: Readonly<Record<string, AttributeValue>>) =>
    Object.fromEntries(Object.entries(record).map(([key, item]) => [cut(key), value(item)]));
  let resource = resources.get(span.resource);
  if (!resource) {
    resource = attributes(span.resource);
    resources.set(span.resource, resource);
  }
  return {
    ...span,
    name: cut(span.name),
    statusMessage: span.statusMessage === undefined ? undefined : cut(span.statusMessage),
    attributes: attributes(span.attributes),
    resource,
    events: span.events.slice(0, limits.maxEventsPerSpan).map((event) => ({
      ...event,
      name: cut(event.name),
      attributes: attributes(event.attributes),
    })),
  };
}

function summarise(traceId: string, trace: StoredTrace): TraceSummary {
  const spans = trace.spans;
  const ids = new Set(spans.map((span) => span.spanId));
  const byStart = [...spans].sort((a, b) => a.startMs - b.startMs);
  const root =
    byStart.find((span) => span.parentSpanId === undefined) ??
    byStart.find((span) => !ids.has(span.parentSpanId!)) ??
    byStart[0]!;
  const startMs = byStart[0]!.startMs;
  const endMs = Math.max(...spans.map((span) => span.startMs + span.durationMs));
  return {
    traceId,
    root:
      root.attributes['rpc.method'] !== undefined
        ? `${String(root.attributes['rpc.service'] ?? '')
            .split('.')
            .pop()}.${root.attributes['rpc.method']}`
        : root.name,
    rootService: root.service,
    services: [...new Set(byStart.map((span) => span.service))],
    startMs,
    durationMs: endMs - startMs,
    spanCount: spans.length,
    errorCount: spans.filter((span) => span.status === 'error').length,
    droppedSpans: trace.dropped,
  };
}
