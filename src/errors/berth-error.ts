/**
 * berth's one error type is Connect's: a closed set of codes (`Code`) shared by
 * Connect, gRPC and gRPC-Web, so an error raised in a handler keeps its meaning
 * on every wire and through the gateway. This module adds the edge mappings.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { codeFromString, codeToString } from '@connectrpc/connect/protocol-connect';

export { Code, ConnectError };

/** Shorthand used throughout services: `fail(Code.NotFound, 'no vessel')`. */
export function fail(code: Code, message: string, cause?: unknown): never {
  throw new ConnectError(message, code, undefined, undefined, cause);
}

/**
 * HTTP status the gateway answers with (DESIGN.md §3). It differs from the Connect
 * protocol's table where micro's clients expect otherwise: failed precondition is
 * 412 and an unknown method is 404, not 400 and 501.
 */
const gatewayStatus: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 412,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 404,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

export function codeToGatewayStatus(code: Code): number {
  return gatewayStatus[code] ?? 500;
}

/** `not_found`-style name of a code, as in Connect's JSON errors. */
export function codeName(code: Code): string {
  return codeToString(code);
}

export function codeFromName(name: string): Code | undefined {
  return codeFromString(name);
}

/** Any thrown value as a ConnectError; unknown errors become Internal without leaking their text. */
export function toConnectError(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  return new ConnectError('internal error', Code.Internal, undefined, undefined, reason);
}
