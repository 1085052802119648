/**
 * The UI's only way out: the gateway on the page's own origin. Calls go to
 * `POST /rpc` (`{service, method, request}`, DESIGN.md §3); answers use proto field
 * names (snake_case) and omit fields that hold their default (0, false, "", []).
 * A failed call throws a GatewayError carrying the gateway's `{id, code, detail, status}`.
 */

/** What a failed call tells the user: the HTTP status (0 when the gateway was not reached) and why. */
export class GatewayError extends Error {
  readonly status: number;
  /** The service the failure is about, e.g. `vessel`; `gateway` for the gateway's own errors. */
  readonly service: string;

  constructor(status: number, service: string, message: string) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.service = service;
  }
}

interface ErrorBody {
  readonly id?: string;
  readonly detail?: string;
}

/**
 * The service a failure is about. A service that could not reach one it depends on
 * answers with its own id but names the dependency in the detail, as a proto service
 * (`no instance of "shippy.vessel.v1.VesselService" is available`) or a short name
 * (`vessel at 127.0.0.1:4001 is unreachable`): that dependency is the one that is down.
 */
export function failingService(answered: string, detail: string): string {
  for (const pattern of dependencyPatterns) {
    const named = pattern.exec(detail)?.[1];
    if (named) return named;
  }
  return answered;
}

/** How berth's caller names a service it could not reach (src/client/caller.ts). */
const dependencyPatterns = [
  /\b([a-z]\w*)\.v\d+\.[A-Z]\w*/, // a proto service: shippy.vessel.v1.VesselService
  /instance of (?:service )?"([\w-]+)"/, // no instance of "vessel" is available
  /^([\w-]+) at \S+ is (?:unreachable|unavailable)/,
  /^deadline exceeded calling ([\w-]+)\//,
];

/** A sentence for the page, whatever went wrong; never a stack trace or raw JSON. */
export function describeError(error: unknown): string {
  if (!(error instanceof GatewayError)) {
    return `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
  }
  switch (error.status) {
    case 0:
      return `Cannot reach the gateway (${error.message}). Check that shippy is running, then try again.`;
    case 503:
      return `The ${error.service} service is unavailable right now: ${error.message}. Try again in a moment.`;
    case 504:
      return `The ${error.service} service did not answer in time: ${error.message}. Try again in a moment.`;
    default:
      return error.status >= 500
        ? `The ${error.service} service failed (HTTP ${error.status}): ${error.message}. Try again in a moment.`
        : sentence(error.message);
  }
}

/** Services' details are lowercase clauses (`invalid email or password`); the page shows sentences. */
export function sentence(text: string): string {
  const capitalized = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalized) ? capitalized : `${capitalized}.`;
}

async function send(path: string, init: RequestInit, service: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    const reason = timedOut ? 'no answer in time' : error instanceof Error ? error.message : String(error);
    throw new GatewayError(0, service, reason);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    // A proxy or a crashed server in front of the gateway may answer HTML or plain text.
    throw new GatewayError(response.status, service, `unexpected answer (HTTP ${response.status})`);
  }
  if (!response.ok) {
    const { id, detail } = body as ErrorBody;
    const message = detail ?? `HTTP ${response.status}`;
    throw new GatewayError(response.status, failingService(id ?? service, message), message);
  }
  return body;
}

/** Calls `<service>`'s `<method>` through `POST /rpc`, with the session token when there is one. */
export function rpc<T>(service: string, method: string, request: object, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers['authorization'] = `Bearer ${token}`;
  return send(
    '/rpc',
    { method: 'POST', headers, body: JSON.stringify({ service, method, request }) },
    service,
  ) as Promise<T>;
}

/**
 * GETs one of the gateway's own JSON endpoints (`/readyz`, `/_berth/services`). A
 * gateway that is paused or cut off never answers, so the wait is bounded: the
 * System page must say "unknown" then, not keep showing the last answer.
 */
export function getJson<T>(path: string, timeoutMs: number): Promise<T> {
  return send(
    path,
    { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) },
    'gateway',
  ) as Promise<T>;
}

// The messages of shippy's protos as proto3 JSON (snake_case, defaults omitted). Weights are kilograms.

export interface Vessel {
  readonly id?: string;
  readonly name?: string;
  /** Containers it carries: a limit, of which `used_capacity` is booked. */
  readonly capacity?: number;
  /** Kilograms it carries: a limit, of which `used_weight` is booked. */
  readonly max_weight?: number;
  readonly used_capacity?: number;
  readonly used_weight?: number;
  readonly available?: boolean;
  readonly owner_id?: string;
}

export interface Container {
  readonly customer_id?: string;
  readonly origin?: string;
  readonly user_id?: string;
}

export interface Consignment {
  readonly id?: string;
  readonly description?: string;
  /** Kilograms, all containers together. */
  readonly weight?: number;
  readonly containers?: readonly Container[];
  readonly vessel_id?: string;
  readonly vessel_name?: string;
  /** RFC 3339, set by the server. */
  readonly created_at?: string;
}

export interface User {
  readonly id?: string;
  readonly name?: string;
  readonly company?: string;
  readonly email?: string;
}

/** One page of a list call (Google API design guide): empty `next_page_token` on the last page. */
export interface PageRequest {
  readonly page_size: number;
  readonly page_token: string;
}

/** What an instance's own /readyz said, as the gateway relays it (`error` when it did not answer). */
export interface InstanceReadiness {
  readonly ready?: boolean;
  /** `ok` or the reason, per check (`serving`, `postgres`, …). */
  readonly checks?: Readonly<Record<string, string>>;
  readonly error?: string;
}

/** One registered process, as GET /_berth/services lists it. */
export interface Instance {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly address: string;
  /** Unary methods it serves (`VesselService.Create`); absent where discovery knows addresses only. */
  readonly endpoints?: readonly string[];
  readonly ready?: boolean;
  readonly readiness?: InstanceReadiness;
}

export interface ServicesAnswer {
  readonly services: ReadonlyArray<{ readonly name: string; readonly instances: readonly Instance[] }>;
}

export interface ReadyAnswer {
  readonly ready?: boolean;
  readonly services?: ReadonlyArray<{ readonly name: string; readonly instances: number }>;
}
