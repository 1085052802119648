/**
 * The API explorer: every service's methods, read from its ops endpoint
 * `/descriptors` (src/service/describe-services.ts), and calls through the gateway's
 * `/rpc` as any client makes them. Each call starts a trace of its own (a W3C
 * `traceparent` the dashboard makes, sampled), so the answer can link to it.
 */
import { randomBytes } from 'node:crypto';
import type { ServiceDescription } from '../service/describe-services.ts';
import { HttpError } from './http-io.ts';

export interface ExplorerService {
  /** The berth service (`vessel`). */
  readonly service: string;
  readonly protoServices: readonly ServiceDescription[];
}

export interface CallRequest {
  readonly service: string;
  /** `VesselService.FindAvailable`. */
  readonly method: string;
  readonly request: unknown;
  /** Sent as `Authorization: Bearer <token>` when given. */
  readonly token?: string;
}

export interface CallAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly traceId: string;
  readonly durationMs: number;
}

/** `{service, method, request, token?}` checked; HttpError 400 naming what is missing. */
export function callRequestOf(body: unknown): CallRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.service !== 'string' || b.service === '') throw new HttpError(400, 'service: expected a name');
  if (typeof b.method !== 'string' || !/^\w+\.\w+$/.test(b.method)) {
    throw new HttpError(400, 'method: expected Service.Method, e.g. VesselService.FindAvailable');
  }
  if (typeof b.request !== 'object' || b.request === null || Array.isArray(b.request)) {
    throw new HttpError(400, 'request: expected a JSON object');
  }
  if (b.token !== undefined && typeof b.token !== 'string')
    throw new HttpError(400, 'token: expected a string');
  return { service: b.service, method: b.method, request: b.request, token: b.token || undefined };
}

/** Descriptions found so far, per service (they do not change while a process runs). */
export class ApiExplorer {
  readonly #found = new Map<string, readonly ServiceDescription[]>();

  /** `instances`: one ready address per service. */
  async services(instances: ReadonlyMap<string, string>): Promise<ExplorerService[]> {
    await Promise.all(
      [...instances].map(async ([service, address]) => {
        if (this.#found.has(service)) return;
        try {
          const response = await fetch(`http://${address}/descriptors`, {
            signal: AbortSignal.timeout(2000),
          });
          if (!response.ok) return;
          const { services } = (await response.json()) as { services: ServiceDescription[] };
          this.#found.set(service, services);
        } catch {
          // not answering now: asked again on the next visit
        }
      }),
    );
    return [...instances.keys()]
      .sort()
      .map((service) => ({ service, protoServices: this.#found.get(service) ?? [] }));
  }

  async call(gateway: string, call: CallRequest): Promise<CallAnswer> {
    const traceId = randomBytes(16).toString('hex');
    const started = performance.now();
    const response = await fetch(`${gateway}/rpc`, {
      method: 'POST',
      signal: AbortSignal.timeout(30_000),
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
        ...(call.token ? { authorization: `Bearer ${call.token}` } : {}),
      },
      body: JSON.stringify({ service: call.service, method: call.method, request: call.request }),
    }).catch((error: Error) => {
      throw new HttpError(502, `the gateway at ${gateway} did not answer: ${error.message}`);
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: shown as text
    }
    return { status: response.status, body, traceId, durationMs: performance.now() - started };
  }
}
