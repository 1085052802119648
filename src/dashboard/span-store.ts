/**
 * The spans the dashboard received, in memory and bounded: at most `maxTraces`
 * traces and `maxSpans` spans in all (oldest trace dropped first), and at most
 * `maxSpansPerTrace` per trace (later ones counted, not kept), so a chatty or
 * hostile exporter cannot grow the runner's heap without end.
 */
import type { SpanRecord } from './otlp-json.ts';

export interface SpanStoreLimits {
  readonly maxTraces: number;
  readonly maxSpans: number;
  readonly maxSpansPerTrace: number;
}

export const DEFAULT_SPAN_LIMITS: SpanStoreLimits = {
  maxTraces: 1000,
  maxSpans: 50_000,
  maxSpansPerTrace: 2000,
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
  dropped: number;
}

export interface TraceQuery {
  readonly service?: string;
  readonly errors?: boolean;
  readonly limit?: number;
}

export class SpanStore {
  readonly #limits: SpanStoreLimits;
  /** Insertion order = age: Map iteration gives the oldest first. */
  readonly #traces = new Map<string, StoredTrace>();
  #spanCount = 0;

  constructor(limits: SpanStoreLimits = DEFAULT_SPAN_LIMITS) {
    this.#limits = limits;
  }

  get spanCount(): number {
    return this.#spanCount;
  }

  add(spans: readonly SpanRecord[]): void {
    for (const span of spans) {
      let trace = this.#traces.get(span.traceId);
      if (!trace) {
        trace = { spans: [], dropped: 0 };
        this.#traces.set(span.traceId, trace);
      }
      if (trace.spans.length >= this.#limits.maxSpansPerTrace) {
        trace.dropped += 1;
        continue;
      }
      trace.spans.push(span);
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
      summaries.push(summary);
    }
    summaries.sort((a, b) => b.startMs - a.startMs);
    return summaries.slice(0, query.limit ?? 100);
  }
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
