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
  isSpanContextValid,
  type Link,
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
  /** How a gRPC call through the gateway ended, when its answer said (trailers, or headers of a trailers-only one). */
  #grpcStatus: number | undefined;

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

  rename(name: string): void {
    this.#span.updateName(name);
  }

  /** The `grpc-status` an HTTP span's answer carried (gRPC fails on an HTTP 200); the first one counts. */
  setGrpcStatus(code: number): void {
    this.#grpcStatus ??= code;
  }

  get grpcStatus(): number | undefined {
    return this.#grpcStatus;
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

  /**
   * Ends an HTTP server span (the gateway's): status ERROR on a 5xx, or on a
   * gRPC status that is the server's failure (as endRpc judges it).
   */
  endHttp(status: number): void {
    this.#span.setAttribute('http.response.status_code', status);
    const grpcStatus = this.#grpcStatus;
    if (grpcStatus !== undefined) this.#span.setAttribute('rpc.grpc.status_code', grpcStatus);
    if (status >= 500 || (grpcStatus !== undefined && serverErrors.has(grpcStatus))) {
      this.#span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.#span.end();
  }

  /** Ends an HTTP server span whose client went away before the answer was complete: no status was answered. */
  endAborted(): void {
    this.#span.setAttribute('error.type', 'aborted');
    this.#span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client went away before the answer' });
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

  /**
   * A SERVER span of a public entry (the gateway). Untrusted, it starts a new
   * trace, which the configured sampler alone decides on, linked to the context
   * `headers` carry: any client could otherwise have its requests sampled (a
   * `traceparent` ending `-01` under a parent-based sampler) or join a trace.
   * Trusted (behind a mesh that sets `traceparent` itself), it is server()'s child.
   */
  entry(name: string, headers: HeaderCarrier, attributes: Attributes, trustParent: boolean): CallSpan {
    if (trustParent) return this.server(name, headers, attributes);
    const claimed = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, headerGetter));
    const links: Link[] | undefined =
      claimed && isSpanContextValid(claimed) ? [{ context: claimed }] : undefined;
    const span = this.#tracer.startSpan(
      name,
      { kind: SpanKind.SERVER, attributes, links, root: true },
      ROOT_CONTEXT,
    );
    return new CallSpan(span, ROOT_CONTEXT, 'connect_rpc', true);
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
