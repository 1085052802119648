/** CORS for the gateway: browsers on allowed origins may call /rpc and Connect paths. */
import type { IncomingHttpHeaders } from 'node:http';

export interface CorsOptions {
  /** Allowed origins, or `['*']` for any. Empty: CORS off. */
  readonly origins: readonly string[];
  readonly allowHeaders?: readonly string[];
  readonly maxAgeSeconds?: number;
  readonly credentials?: boolean;
}

const defaultAllowHeaders = [
  'Content-Type',
  'Content-Length',
  'Accept-Encoding',
  'X-CSRF-Token',
  'Authorization',
  'X-Request-Id',
  'Connect-Protocol-Version',
  'Connect-Timeout-Ms',
  'Grpc-Timeout',
  'X-Grpc-Web',
  'X-User-Agent',
];
const exposeHeaders = 'Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, X-Request-Id';

/** Response headers for `origin`, or undefined when it is not allowed. */
export function corsHeaders(
  options: CorsOptions,
  headers: IncomingHttpHeaders,
): Record<string, string> | undefined {
  const origin = headers.origin;
  if (!origin || options.origins.length === 0) return undefined;
  const any = options.origins.includes('*');
  if (!any && !options.origins.includes(origin)) return undefined;
  const result: Record<string, string> = {
    'access-control-allow-origin': any && !options.credentials ? '*' : origin,
    'access-control-expose-headers': exposeHeaders,
    vary: 'Origin',
  };
  if (options.credentials) result['access-control-allow-credentials'] = 'true';
  return result;
}

export function preflightHeaders(
  options: CorsOptions,
  headers: IncomingHttpHeaders,
): Record<string, string> | undefined {
  const base = corsHeaders(options, headers);
  if (!base) return undefined;
  return {
    ...base,
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': (options.allowHeaders ?? defaultAllowHeaders).join(', '),
    'access-control-max-age': String(options.maxAgeSeconds ?? 600),
  };
}
