/**
 * The gateway's SERVER span of one request (HTTP/1.1 or HTTP/2). Its client is
 * untrusted unless the gateway is told otherwise: the span starts a trace of its
 * own, linked to the client's `traceparent` (RpcTracing.entry). It is named by
 * the method alone until the request reaches a route an instance serves, so
 * client-chosen paths cannot grow the span names without bound (the path is in
 * `url.path`), and ends with the answer's status, or as aborted when the client
 * went away before the answer was complete.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { activeTracing } from '../telemetry/active.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';

/**
 * The trace context a client may send. Untrusted, it goes no further than the
 * gateway's span (its link): the gateway's own context replaces it when it traces,
 * and when it does not, a client must not pick the trace ids and the sampling of
 * every service behind it either.
 */
const clientTraceContext = ['traceparent', 'tracestate', 'baggage'] as const;

/**
 * Undefined when not tracing. Unless `trustTraceparent`, the client's trace context
 * is taken off the request, so that no forwarding path relays it.
 */
export function serverSpan(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  path: string,
  trustTraceparent: boolean,
): CallSpan | undefined {
  const span = startServerSpan(req, res, path, trustTraceparent);
  if (!trustTraceparent) {
    // Checked first: a delete would slow every later header read of the request.
    for (const name of clientTraceContext) if (req.headers[name] !== undefined) delete req.headers[name];
  }
  return span;
}

function startServerSpan(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  path: string,
  trustTraceparent: boolean,
): CallSpan | undefined {
  const tracing = activeTracing;
  if (tracing === undefined) return undefined;
  const method = req.method ?? 'GET';
  const span = tracing.entry(
    method,
    req.headers,
    { 'http.request.method': method, 'url.path': path },
    trustTraceparent,
  );
  res.once('close', () => {
    if (!res.writableFinished) {
      span.endAborted();
      return;
    }
    // A trailers-only gRPC answer (an instance's, or the gateway's own error) says it in its headers.
    const grpcStatus = res.getHeader('grpc-status');
    if (grpcStatus !== undefined) span.setGrpcStatus(Number(grpcStatus));
    span.endHttp(res.statusCode);
  });
  return span;
}

/** Names `span` after the route, now that the request reached one an instance serves. */
export function routed(
  span: CallSpan | undefined,
  req: IncomingMessage | Http2ServerRequest,
  route: string,
): void {
  span?.rename(`${req.method} ${route}`);
}
