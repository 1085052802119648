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

/** Undefined when not tracing. */
export function serverSpan(
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
