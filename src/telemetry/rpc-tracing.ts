/**
 * Spans of berth's calls, on `@opentelemetry/api`: a SERVER span per call served
 * (child of the `traceparent` it came with), a CLIENT span per call made (child of
 * the active span, its context written into the call's metadata), and the ids of
 * the active span for log lines. Loaded only when tracing is on (active.ts).
 *
 * Attributes follow OpenTelemetry's RPC and HTTP conventions: `rpc.system`
 * (`connect_rpc` or `grpc`), `rpc.service`, `rpc.method`,
 * `rpc.connect_rpc.error_code` / `rpc.grpc.status_code`, `server.address`,
 * `http.request.method`, `url.path`, `http.response.status_code`.
 */

import { codeToString } from '@connectrpc/connect/protocol-connect';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { Code } from '../errors/berth-error.ts';

/** Headers as Node gives them (lower-case keys), or as a call's metadata. */
export type HeaderCarrier = Readonly<Record<string, string | string[] | undefined>>;

export type RpcSystem = 'connect_rpc' | 'grpc';

/** One span of a call: run work inside it, pass it on, end it once. */
export class CallSpan {
  readonly #span: Span;
  readonly #context: Context;
  readonly #system: RpcSystem;
  readonly #server: boolean;

  constructor(span: Span, parent: Context, system: RpcSystem, server: boolean) {
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
    this.#system = system;
    this.#server = server;
  }

  /** Runs `fn` with this span active: spans and log lines made inside are its children. */
  run<T>(fn: () => T): T {
    return context.with(this.#context, fn);
  }

  /** False for a span the sampler dropped: attributes set on it are thrown away, so skip making them. */
  get recording(): boolean {
    return this.#span.isRecording();
  }

  setAttribute(key: string, value: string | number): void {
    this.#span.setAttribute(key, value);
  }

  /** Writes this span's `traceparent` (and `tracestate`, baggage) into outgoing metadata. */
  inject(headers: Record<string, string | string[]>): void {
    propagation.inject(this.#context, headers);
  }

  /**
   * Ends an RPC span: `code` undefined is success. A server span is an error only
   * for the server's own failures (as OpenTelemetry's gRPC convention says: a
   * caller's invalid argument is not the server's error); a client span for any.
   */
  endRpc(code?: Code, message?: string): void {
    if (code !== undefined) {
      if (this.#system === 'grpc') this.#span.setAttribute('rpc.grpc.status_code', code);
      else this.#span.setAttribute('rpc.connect_rpc.error_code', codeToString(code));
      if (!this.#server || serverErrors.has(code)) {
        this.#span.setStatus({ code: SpanStatusCode.ERROR, message });
      }
    } else if (this.#system === 'grpc') {
      this.#span.setAttribute('rpc.grpc.status_code', 0);
    }
    this.#span.end();
  }

  /** Ends an HTTP server span (the gateway's): status ERROR on a 5xx. */
  endHttp(status: number): void {
    this.#span.setAttribute('http.response.status_code', status);
    if (status >= 500) this.#span.setStatus({ code: SpanStatusCode.ERROR });
    this.#span.end();
  }
}

const serverErrors = new Set<Code>([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

const headerGetter: TextMapGetter<HeaderCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

export class RpcTracing {
  readonly #tracer: Tracer;

  constructor(tracer: Tracer = trace.getTracer('berth')) {
    this.#tracer = tracer;
  }

  /** A SERVER span, child of the trace context `headers` carry (a new trace without one). */
  server(
    name: string,
    headers: HeaderCarrier,
    attributes: Attributes,
    system: RpcSystem = 'connect_rpc',
  ): CallSpan {
    const parent = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
    const span = this.#tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    return new CallSpan(span, parent, system, true);
  }

  /** A CLIENT span, child of the active span. */
  client(name: string, attributes: Attributes): CallSpan {
    const parent = context.active();
    const span = this.#tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    return new CallSpan(span, parent, 'connect_rpc', false);
  }

  /** Runs `fn` with no active span. */
  outsideSpans<T>(fn: () => T): T {
    return context.with(ROOT_CONTEXT, fn);
  }

  /** `trace_id` and `span_id` of the active span, for a log line (a new object each time); undefined outside any. */
  logFields(): Record<string, string> | undefined {
    const span = trace.getActiveSpan();
    if (span === undefined) return undefined;
    const { traceId, spanId } = span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  }
}
