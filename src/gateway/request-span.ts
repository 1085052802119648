/**
 * The gateway's SERVER span of one request (HTTP/1.1 or HTTP/2), child of the
 * client's `traceparent`, ended with the answer's status when the answer is done.
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
): CallSpan | undefined {
  const tracing = activeTracing;
  if (tracing === undefined) return undefined;
  const method = req.method ?? 'GET';
  const span = tracing.server(`${method} ${path}`, req.headers, {
    'http.request.method': method,
    'url.path': path,
  });
  res.once('close', () => span.endHttp(res.statusCode));
  return span;
}
