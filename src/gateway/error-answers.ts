/**
 * How the gateway answers an error: micro's JSON `{id, code, detail, status}` for
 * its own routes (/rpc, path routes, the web UI), and the caller's own protocol
 * for requests to `/<pkg>.<Service>/<Method>`, which their clients decode.
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { endStreamFlag } from '@connectrpc/connect/protocol-connect';
import { Code, type ConnectError, codeName, codeToGatewayStatus } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import { contentTypeJson, encodeError } from '../protocol/connect-unary.ts';

export type Send = (status: number, headers: Record<string, string | number>, body: string | Buffer) => void;

/**
 * `id` names who failed: `gateway` or the target service. Only internal errors
 * are logged: whatever a client got wrong is its answer, not the operator's
 * problem, and a log line with a stack per bad request would let clients flood the log.
 */
export function sendError(
  send: Send,
  id: string,
  error: ConnectError,
  logger: Logger,
  status = codeToGatewayStatus(error.code),
): void {
  if (error.code === Code.Internal) logger.error({ err: error.cause ?? error }, 'gateway error');
  const body = JSON.stringify({ id, code: status, detail: error.rawMessage, status: codeName(error.code) });
  send(status, { 'content-type': contentTypeJson, 'content-length': Buffer.byteLength(body) }, body);
}

/**
 * An error for a request relayed as it came (Connect, gRPC, gRPC-Web; over
 * HTTP/1.1 or HTTP/2), in that request's own protocol, told by its content type:
 *  - gRPC and gRPC-Web: a 200 whose headers carry grpc-status (trailers-only);
 *  - Connect streaming (`application/connect+…`): a 200 and an end-stream message;
 *  - Connect unary and GET: the Connect protocol's HTTP status and JSON error,
 *    as a service answers it (encodeError).
 */
export function sendProtocolError(
  res: ServerResponse | Http2ServerResponse,
  contentType: string | undefined,
  error: ConnectError,
  cors?: Record<string, string>,
  /** Instead of the code's own, for a Connect unary answer (a wrong verb's 405). */
  status?: number,
): void {
  const type = contentType ?? '';
  if (type.startsWith('application/grpc')) {
    (res as ServerResponse).writeHead(200, {
      ...cors,
      'content-type': type,
      'grpc-status': String(error.code),
      'grpc-message': encodeURIComponent(error.rawMessage),
    });
    res.end();
    return;
  }
  const encoded = encodeError(error);
  if (type.startsWith('application/connect+')) {
    const endStream = Buffer.from(`{"error":${encoded.body}}`);
    const envelope = Buffer.alloc(5);
    envelope[0] = endStreamFlag;
    envelope.writeUInt32BE(endStream.length, 1);
    (res as ServerResponse).writeHead(200, { ...cors, 'content-type': type });
    res.end(Buffer.concat([envelope, endStream]));
    return;
  }
  (res as ServerResponse).writeHead(status ?? encoded.status, {
    ...cors,
    'content-type': contentTypeJson,
    'content-length': Buffer.byteLength(encoded.body),
  });
  res.end(encoded.body);
}

/**
 * No instance serves the proto service the path names: `unavailable` while it
 * restarts, or for a service nobody serves `unimplemented` with a 404, as for any
 * path no handler has (Connect's table says 501, which clients read as the
 * method, not the path, missing).
 */
export function sendMissingService(
  res: ServerResponse | Http2ServerResponse,
  contentType: string | undefined,
  error: ConnectError,
  cors?: Record<string, string>,
): void {
  sendProtocolError(res, contentType, error, cors, error.code === Code.Unimplemented ? 404 : undefined);
}
