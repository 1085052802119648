/**
 * The API explorer: every service's methods, read from its ops endpoint
 * `/descriptors` (src/service/describe-services.ts), and calls through the gateway's
 * `/rpc` as any client makes them; streaming methods (server, client and bidi)
 * through its Connect pass-through instead (stream-call.ts), answered line by line. Each call starts a trace of its own (a W3C
 * `traceparent` the dashboard makes, sampled), so the answer can link to it.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '@bufbuild/protobuf';
import type { ServiceDescription } from '../service/describe-services.ts';
import { HttpError } from './http-io.ts';
import {
  callStream,
  defaultStreamLimits,
  type StreamCall,
  type StreamEnd,
  type StreamLimits,
} from './stream-call.ts';

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

/** A streaming call: `requests` are the messages to send (one for a server stream). */
export interface StreamRequest {
  readonly service: string;
  readonly method: string;
  readonly requests: readonly JsonObject[];
  readonly token?: string;
}

/** A line of POST /api/stream's answer: each message as it arrives, then the end. */
export type StreamLine = { readonly message: unknown } | { readonly end: StreamCallEnd };

export interface StreamCallEnd extends StreamEnd {
  readonly traceId: string;
  readonly durationMs: number;
  /** What bounded the call, so the page can say so. */
  readonly limits: StreamLimits;
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
  const { service, method, token } = targetOf(b);
  if (!isJsonObject(b.request)) throw new HttpError(400, 'request: expected a JSON object');
  return { service, method, request: b.request, token };
}

/** The largest list of messages a client or bidi stream may send from the explorer. */
const maxRequests = 100;

/**
 * `{service, method, requests, token?}` checked, or `request` for a single message;
 * HttpError 400 naming the field that is wrong.
 */
export function streamRequestOf(body: unknown): StreamRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  const { service, method, token } = targetOf(b);
  if (b.requests === undefined) {
    if (!isJsonObject(b.request))
      throw new HttpError(400, 'request: expected a JSON object (or requests: a list)');
    return { service, method, requests: [b.request], token };
  }
  if (!Array.isArray(b.requests) || b.requests.length > maxRequests) {
    throw new HttpError(400, `requests: expected a list of at most ${maxRequests} JSON objects`);
  }
  const bad = b.requests.findIndex((request) => !isJsonObject(request));
  if (bad >= 0) throw new HttpError(400, `requests[${bad}]: expected a JSON object`);
  return { service, method, requests: b.requests as JsonObject[], token };
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function targetOf(b: Record<string, unknown>): { service: string; method: string; token?: string } {
  if (typeof b.service !== 'string' || b.service === '') throw new HttpError(400, 'service: expected a name');
  if (typeof b.method !== 'string' || !/^\w+\.\w+$/.test(b.method)) {
    throw new HttpError(400, 'method: expected Service.Method, e.g. VesselService.FindAvailable');
  }
  if (b.token !== undefined && typeof b.token !== 'string')
    throw new HttpError(400, 'token: expected a string');
  return { service: b.service, method: b.method, token: b.token || undefined };
}

/** A new sampled trace for one call, and the headers that start it (with the token, if any). */
function traceHeaders(token: string | undefined): { traceId: string; headers: Record<string, string> } {
  const traceId = randomBytes(16).toString('hex');
  return {
    traceId,
    headers: {
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  };
}

/** Descriptions found so far, per service (they do not change while a process runs). */
export class ApiExplorer {
  readonly #found = new Map<string, readonly ServiceDescription[]>();
  readonly #streamLimits: StreamLimits;

  constructor(streamLimits: StreamLimits = defaultStreamLimits) {
    this.#streamLimits = streamLimits;
  }

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

  /**
   * Through the gateway's Connect pass-through; the method's kind is what its
   * `/descriptors` said. Checked at once (an HttpError 400 before any answer), then
   * the lines come as the service answers; `signal` cancels the call.
   */
  stream(gateway: string, call: StreamRequest, signal: AbortSignal): AsyncIterable<StreamLine> {
    const [short, name] = call.method.split('.') as [string, string];
    const protoService = this.#found
      .get(call.service)
      ?.find(({ typeName }) => typeName === short || typeName.endsWith(`.${short}`));
    const kind = protoService?.methods.find((m) => m.name === name)?.kind;
    if (
      !protoService ||
      (kind !== 'server_streaming' && kind !== 'client_streaming' && kind !== 'bidi_streaming')
    ) {
      throw new HttpError(
        400,
        `method: ${call.service} describes no streaming method ${call.method} (unary methods go to /api/call; ` +
          'a service is described once GET /api/services has read its /descriptors)',
      );
    }
    if (kind === 'server_streaming' && call.requests.length !== 1) {
      throw new HttpError(400, `requests: ${call.method} is a server stream: send one request`);
    }
    const { traceId, headers } = traceHeaders(call.token);
    return this.#lines(
      gateway,
      { protoService: protoService.typeName, method: name, kind, requests: call.requests, headers },
      traceId,
      signal,
    );
  }

  async *#lines(
    gateway: string,
    call: StreamCall,
    traceId: string,
    signal: AbortSignal,
  ): AsyncGenerator<StreamLine> {
    const started = performance.now();
    for await (const event of callStream(gateway, call, this.#streamLimits, signal)) {
      if ('message' in event) yield event;
      else {
        yield {
          end: { ...event.end, traceId, durationMs: performance.now() - started, limits: this.#streamLimits },
        };
      }
    }
  }

  async call(gateway: string, call: CallRequest): Promise<CallAnswer> {
    const { traceId, headers } = traceHeaders(call.token);
    const started = performance.now();
    const response = await fetch(`${gateway}/rpc`, {
      method: 'POST',
      signal: AbortSignal.timeout(30_000),
      headers: { 'content-type': 'application/json', ...headers },
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
