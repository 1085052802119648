/**
 * The context of the request being handled, carried through async calls with
 * AsyncLocalStorage so that a client call made inside a handler inherits the
 * deadline, the request id and the caller's metadata without threading a ctx
 * argument through every function (go-micro passes context.Context for this).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { activeTracing } from '../telemetry/active.ts';

export interface RequestContext {
  /** Absolute time (ms since epoch) by which the whole call must finish. */
  readonly deadline: number | undefined;
  readonly requestId: string;
  /** Incoming headers, lower-case keys as Node gives them. */
  readonly headers: IncomingHttpHeaders;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

export function runInRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * Runs `fn` with no request context, and outside any span: for resources that
 * outlive the request that happened to create them (a connection, a timer), so
 * their callbacks do not carry — and keep alive — that request's context.
 */
export function outsideRequest<T>(fn: () => T): T {
  const tracing = activeTracing;
  return tracing === undefined ? storage.exit(fn) : storage.exit(() => tracing.outsideSpans(fn));
}

/**
 * Headers that belong to one hop (HTTP framing, protocol negotiation) and must not
 * be forwarded as metadata; every other header travels downstream, as micro does.
 */
const hopHeaders = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-type',
  'content-encoding',
  'accept',
  'accept-encoding',
  'te',
  'upgrade',
  'expect',
  'user-agent',
  'origin',
  'referer',
  'cookie',
  'x-user-agent',
  'connect-protocol-version',
  'connect-timeout-ms',
  'connect-accept-encoding',
  'connect-content-encoding',
  'grpc-timeout',
  'grpc-encoding',
  'grpc-accept-encoding',
  'x-grpc-web',
  'access-control-request-method',
  'access-control-request-headers',
  'sec-fetch-mode',
  'sec-fetch-site',
  'sec-fetch-dest',
]);

export function isForwardableHeader(name: string): boolean {
  return (
    !hopHeaders.has(name) && name.charCodeAt(0) !== 58 /* ':' pseudo-headers */ && !name.startsWith('sec-ch-')
  );
}

/** Metadata to forward from an incoming request: every non-hop header, lower-cased. */
export function forwardableHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    if (!isForwardableHeader(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
