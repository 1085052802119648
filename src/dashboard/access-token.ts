/**
 * The dashboard's tokens, random per run. Two, so that what a service (or any
 * library it loads) can read in its own environment cannot drive the dashboard:
 *
 *   page token    printed in the URL of the ready summary, in its fragment
 *                 (`/#t=<token>`: a fragment is never sent to a server, so no log or
 *                 proxy sees it); the page keeps it in sessionStorage and sends it as
 *                 `Authorization: Bearer` with each API request, as scripts do
 *                 (`berth traces`, state.json). No cookie: a cookie is not scoped to a
 *                 port, so any server on 127.0.0.1 the browser visits would get it.
 *   ingest token  in the children's OTEL_EXPORTER_OTLP_TRACES_HEADERS: good for
 *                 the OTLP receivers (POST /v1/traces, /v1/logs, /v1/metrics; their gRPC
 *                 Export methods, otlp-grpc.ts) and nothing else (and the page
 *                 token not there).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { otlpPaths } from './otlp-receiver.ts';

export interface DashboardTokens {
  readonly page: string;
  readonly ingest: string;
}

export function newTokens(): DashboardTokens {
  return { page: randomBytes(24).toString('base64url'), ingest: randomBytes(24).toString('base64url') };
}

/** Whether an Authorization value (an HTTP header, gRPC metadata) is `Bearer <token>`. */
export function isBearer(authorization: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether the request's bearer token is the one its path requires (the ingest token for the OTLP paths only). */
export function hasAccess(req: IncomingMessage, path: string, tokens: DashboardTokens): boolean {
  return isBearer(req.headers.authorization, otlpPaths.includes(path) ? tokens.ingest : tokens.page);
}
