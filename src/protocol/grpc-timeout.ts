import { parseTimeoutMs as parseConnectTimeoutMs } from './connect-unary.ts';

/** gRPC's `grpc-timeout` header (`1*8DIGIT unit`), read by services and written by the gateway's relay. */

const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Whole milliseconds (rounded up); undefined when absent or malformed. */
export function parseGrpcTimeoutMs(value: string | string[] | null | undefined): number | undefined {
  const match = typeof value === 'string' ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  return match ? Math.ceil(Number(match[1]) * unitMs[match[2]!]!) : undefined;
}

/** `timeoutMs` as a header value, in milliseconds while they fit in 8 digits, else seconds. */
export function formatGrpcTimeout(timeoutMs: number): string {
  return timeoutMs <= 99_999_999 ? `${Math.ceil(timeoutMs)}m` : `${Math.ceil(timeoutMs / 1000)}S`;
}

/**
 * The deadline a client gave, in the header its protocol uses: Connect's
 * `connect-timeout-ms`, else gRPC's and gRPC-Web's `grpc-timeout`. `header`
 * reads one request header (node:http's object or a fetch Headers).
 */
export function clientDeadline(
  header: (name: string) => string | string[] | null | undefined,
): { readonly timeoutMs: number; readonly header: 'connect-timeout-ms' | 'grpc-timeout' } | undefined {
  const connect = parseConnectTimeoutMs(header('connect-timeout-ms') ?? undefined);
  if (connect !== undefined) return { timeoutMs: connect, header: 'connect-timeout-ms' };
  const grpc = parseGrpcTimeoutMs(header('grpc-timeout'));
  return grpc === undefined ? undefined : { timeoutMs: grpc, header: 'grpc-timeout' };
}
