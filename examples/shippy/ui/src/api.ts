/**
 * The UI's only way out: the gateway on the page's own origin. Calls go to
 * `POST /rpc` (`{service, method, request}`, DESIGN.md §3); answers use proto field
 * names (snake_case) and omit fields that hold their default (0, false, "", []).
 * A failed call throws a GatewayError carrying the gateway's `{id, code, detail, status}`.
 */

/** What a failed call tells the user: the HTTP status (0 when the gateway was not reached) and why. */
export class GatewayError extends Error {
  readonly status: number;
  /** The service that answered, e.g. `consignment`; `gateway` for the gateway's own errors. */
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

/** A sentence for the page, whatever went wrong; never a stack trace or raw JSON. */
export function describeError(error: unknown): string {
  if (!(error instanceof GatewayError)) {
    return `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
  }
  switch (error.status) {
    case 0:
      return `Cannot reach the gateway (${error.message}). Is shippy still running?`;
    case 503:
      return `The ${error.service} service is unavailable right now: ${error.message}. Try again in a moment.`;
    case 504:
      return `The ${error.service} service did not answer in time: ${error.message}. Try again in a moment.`;
    default:
      return error.status >= 500
        ? `The ${error.service} service failed (${error.status}): ${error.message}`
        : sentence(error.message);
  }
}

/** Services' details are lowercase clauses (`invalid email or password`); the page shows sentences. */
function sentence(text: string): string {
  const capitalized = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalized) ? capitalized : `${capitalized}.`;
}

async function send(path: string, init: RequestInit, service: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new GatewayError(0, service, error instanceof Error ? error.message : String(error));
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
    throw new GatewayError(response.status, id ?? service, detail ?? `HTTP ${response.status}`);
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

/** GETs one of the gateway's own JSON endpoints (`/readyz`, `/_berth/services`). */
export function getJson<T>(path: string): Promise<T> {
  return send(path, { headers: { accept: 'application/json' } }, 'gateway') as Promise<T>;
}

// The messages of shippy's protos as proto3 JSON (snake_case, defaults omitted).

export interface Vessel {
  readonly id?: string;
  readonly name?: string;
  readonly capacity?: number;
  readonly max_weight?: number;
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
  readonly weight?: number;
  readonly containers?: readonly Container[];
  readonly vessel_id?: string;
  readonly vessel_name?: string;
}

export interface User {
  readonly id?: string;
  readonly name?: string;
  readonly company?: string;
  readonly email?: string;
}

/** One registered process, as GET /_berth/services lists it. */
export interface Instance {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly address: string;
  /** Unary methods it serves (`VesselService.Create`); absent where discovery knows addresses only. */
  readonly endpoints?: readonly string[];
}

export interface ServicesAnswer {
  readonly services: ReadonlyArray<{ readonly name: string; readonly instances: readonly Instance[] }>;
}

export interface ReadyAnswer {
  readonly ready?: boolean;
  readonly services?: ReadonlyArray<{ readonly name: string; readonly instances: number }>;
}
