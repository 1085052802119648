/**
 * How the gateway answers an error: micro's JSON `{id, code, detail, status}` for
 * its own routes (/rpc, path routes, GETs), and the caller's own protocol for
 * pass-through Connect and gRPC-Web requests, which their clients decode.
 */
import type { ServerResponse } from 'node:http';
import { Code, type ConnectError, codeName, codeToGatewayStatus } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import { contentTypeJson } from '../protocol/connect-unary.ts';

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

/** An error for a Connect or gRPC-Web request relayed as it came (`contentType` is the request's). */
export function sendProtocolError(
  res: ServerResponse,
  contentType: string,
  error: ConnectError,
  cors: Record<string, string> | undefined,
): void {
  if (contentType.startsWith('application/grpc-web')) {
    // gRPC-Web clients read the status from the headers of a 200, never from the HTTP status.
    res.writeHead(200, {
      'content-type': contentType,
      'grpc-status': String(error.code),
      'grpc-message': encodeURIComponent(error.rawMessage),
      ...cors,
    });
    res.end();
    return;
  }
  res.writeHead(codeToGatewayStatus(error.code), { 'content-type': contentTypeJson, ...cors });
  res.end(JSON.stringify({ code: codeName(error.code), message: error.rawMessage }));
}
