/**
 * ServiceCaller: one unary Connect call to some instance of a service. Finds
 * instances in the watch-fed registry cache, leaves out ejected ones, lets the
 * balancer pick, sends with the remaining deadline and the caller's metadata (over
 * berth frames to instances that take them, else HTTP/1.1; see #transportTo), and
 * retries on another instance only where that is safe:
 *  - the request never reached a service (connection refused, or the instance
 *    answered "unprocessed" because it is shutting down), or
 *  - the method is idempotent and the connection broke or the instance was unavailable,
 * and only while the retry budget allows. Used by typed clients and the gateway.
 */
import { randomUUID } from 'node:crypto';
import type { Balancer, BalancerName, CallOutcome } from '../balancer/balancer.ts';
import { CanarySplit } from '../balancer/canary-split.ts';
import { createBalancer } from '../balancer/create-balancer.ts';
import { type EjectionOptions, Ejector } from '../balancer/ejection.ts';
import { currentRequest, forwardableHeaders } from '../context/request-context.ts';
import { Code, ConnectError, toConnectError } from '../errors/berth-error.ts';
import { codecOf, decodeError, isIdentity } from '../protocol/connect-unary.ts';
import { framesMetadataKey } from '../protocol/frames.ts';
import { formatGrpcTimeout } from '../protocol/grpc-timeout.ts';
import type { ServiceInstance } from '../registry/registry.ts';
import type { RegistryCache } from '../registry/registry-cache.ts';
import { activeTracing } from '../telemetry/active.ts';
import { rpcAttributes } from '../telemetry/rpc-names.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';
import { FrameTransport } from './frame-transport.ts';
import { HttpTransport } from './http-transport.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
import type { PostResult, SendError, Transport } from './transport.ts';

/** Response header by which a draining instance says it did not process the request. */
export const unprocessedHeader = 'x-berth-unprocessed';

export interface CallerOptions {
  readonly cache: RegistryCache;
  readonly balancer?: BalancerName | Balancer;
  readonly ejection?: EjectionOptions;
  readonly retryBudget?: RetryBudgetOptions;
  /** Attempts per call, first included. */
  readonly maxAttempts?: number;
  /** Deadline of a call that sets none and is not made inside a request that has one. */
  readonly defaultTimeoutMs?: number;
  /**
   * `auto` (default): berth frames to instances that advertise them (berth services),
   * for Connect JSON or binary calls; HTTP/1.1 otherwise. `http`: always HTTP/1.1,
   * e.g. to watch calls with HTTP tools. Default from BERTH_CALL_PROTOCOL.
   */
  readonly protocol?: CallProtocol;
}

export type CallProtocol = 'auto' | 'http';

function defaultProtocol(): CallProtocol {
  const configured = process.env.BERTH_CALL_PROTOCOL;
  if (configured === undefined || configured === '' || configured === 'auto') return 'auto';
  if (configured === 'http') return 'http';
  throw new Error(`BERTH_CALL_PROTOCOL must be "auto" or "http", not "${configured}"`);
}

export interface CallRequest {
  /** Service name (`vessel`, `shippy.vessel`); or leave it out and give `protoService`. */
  readonly service?: string;
  /** Only instances serving this fully-qualified proto service. */
  readonly protoService?: string;
  /** `/<package>.<Service>/<Method>` */
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer | string;
  /** Metadata to send, added to what the current request carries (lower-case keys win). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /**
   * Whether the instance is told the deadline (`connect-timeout-ms`, or
   * `grpc-timeout` for gRPC-Web); default true. The gateway relays a client's
   * request and tells only the deadline the client gave, capped by its own.
   */
  readonly sendDeadline?: boolean;
  readonly signal?: AbortSignal;
  readonly idempotent?: boolean;
  /** Default POST; GET is Connect's form for side-effect-free calls (HTTP/1.1 only). */
  readonly method?: 'GET' | 'POST';
  /**
   * When tracing: the span this call is part of, rather than a CLIENT span of its
   * own; its context is what the instance is sent. The gateway passes its request's
   * span, so a relayed call is one span there, not two.
   */
  readonly span?: CallSpan;
}

/** How an answer failed, for its span: nothing on success; for gRPC-Web, its `grpc-status`. */
function failureOf(response: PostResult): [code?: Code, message?: string] {
  if (response.status !== 200) {
    const error = decodeError(response.status, response.body);
    return [error.code, error.rawMessage];
  }
  const grpcStatus = Number(response.headers['grpc-status'] ?? 0);
  return grpcStatus === 0 ? [] : [grpcStatus as Code];
}

function setServerAddress(span: CallSpan, address: string): void {
  const separator = address.lastIndexOf(':');
  span.setAttribute('server.address', address.slice(0, separator).replace(/^\[(.*)\]$/, '$1'));
  span.setAttribute('server.port', Number(address.slice(separator + 1)));
}

export type CallTarget = Pick<CallRequest, 'service' | 'protoService'>;

export interface CallResponse extends PostResult {
  readonly instance: ServiceInstance;
}

export class ServiceCaller {
  readonly cache: RegistryCache;
  readonly #balancer: Balancer;
  readonly #ejector: Ejector;
  readonly #canarySplit = new CanarySplit();
  readonly #budget: RetryBudget;
  readonly #http = new HttpTransport();
  /** Undefined when every call must go over HTTP. */
  readonly #frames: FrameTransport | undefined;
  readonly #maxAttempts: number;
  readonly #defaultTimeoutMs: number;
  readonly #stopForgetting: () => void;

  constructor(options: CallerOptions) {
    this.cache = options.cache;
    this.#balancer =
      typeof options.balancer === 'object'
        ? options.balancer
        : createBalancer(options.balancer ?? 'round-robin');
    this.#ejector = new Ejector(options.ejection);
    this.#budget = new RetryBudget(options.retryBudget);
    this.#frames = (options.protocol ?? defaultProtocol()) === 'auto' ? new FrameTransport() : undefined;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
    let known = new Set<string>();
    this.#stopForgetting = this.cache.onChange(() => {
      const live = new Set(this.cache.all().map((instance) => instance.address));
      for (const address of known) {
        if (live.has(address)) continue;
        this.#http.forget(address);
        this.#frames?.forget(address);
      }
      known = live;
    });
  }

  /**
   * One call, retried where safe. When tracing, the call is a CLIENT span (child of
   * the active span; attempts are not spans of their own), or part of
   * `request.span`, whose context goes out as `traceparent`/`tracestate`, in place
   * of any the current request brought.
   */
  call(request: CallRequest): Promise<CallResponse> {
    const tracing = activeTracing;
    if (tracing === undefined || request.span !== undefined) return this.#call(request, request.span);
    const { service, method } = rpcAttributes(request.path);
    const system = request.contentType.startsWith('application/grpc') ? 'grpc' : 'connect_rpc';
    const span = tracing.client(`${service}/${method}`, {
      'rpc.system': system,
      'rpc.service': service,
      'rpc.method': method,
    });
    return this.#call(request, span).then(
      (response) => {
        span.endRpc(...failureOf(response));
        return response;
      },
      (error: unknown) => {
        const connectError = toConnectError(error);
        span.endRpc(connectError.code, connectError.rawMessage);
        throw error;
      },
    );
  }

  async #call(request: CallRequest, span: CallSpan | undefined): Promise<CallResponse> {
    const context = currentRequest();
    const now = Date.now();
    let deadline = now + (request.timeoutMs ?? this.#defaultTimeoutMs);
    if (context?.deadline !== undefined && context.deadline < deadline) deadline = context.deadline;
    const headers: Record<string, string> = context ? forwardableHeaders(context.headers) : {};
    if (request.headers)
      for (const name in request.headers) headers[name.toLowerCase()] = request.headers[name];
    if (request.method !== 'GET') headers['content-type'] = request.contentType;
    if (!request.contentType.startsWith('application/grpc')) headers['connect-protocol-version'] = '1';
    headers['x-request-id'] ??= context?.requestId ?? randomUUID();
    span?.inject(headers);

    const target = request.service ?? request.protoService ?? '?';
    // `vessel/VesselService/Create`, or the proto path alone when it names the target already.
    const callee = request.service !== undefined ? `${request.service}${request.path}` : request.path;
    const tried = new Set<string>();
    this.#budget.recordRequest();
    let lastError: ConnectError | undefined;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new ConnectError(`deadline exceeded calling ${callee}`, Code.DeadlineExceeded);
      }
      const instance = this.#pick(request, tried);
      if (!instance) {
        throw lastError ?? new ConnectError(`no instance of "${target}" is available`, Code.Unavailable);
      }
      tried.add(instance.id);
      if (span?.recording) setServerAddress(span, instance.address);
      // Unsaid (sendDeadline false), the call is still bounded: by this caller's own timer.
      if (request.sendDeadline !== false) {
        if (request.contentType.startsWith('application/grpc-web'))
          headers['grpc-timeout'] = formatGrpcTimeout(remaining);
        else headers['connect-timeout-ms'] = String(remaining);
      }
      let result: PostResult;
      try {
        result = await this.#transportTo(instance, request, headers).post({
          address: instance.address,
          method: request.method,
          path: request.path,
          headers,
          body: request.body,
          timeoutMs: remaining,
          signal: request.signal,
        });
      } catch (error) {
        const failure = error as SendError;
        this.report(instance, {
          reached: false,
          connectFailure: failure.failure !== 'timeout' && failure.failure !== 'aborted',
        });
        if (failure.failure === 'aborted') throw new ConnectError('call canceled', Code.Canceled);
        if (failure.failure === 'timeout') {
          throw new ConnectError(`deadline exceeded calling ${callee}`, Code.DeadlineExceeded);
        }
        lastError = new ConnectError(
          `${target} at ${instance.address} is unreachable (${(failure.cause as Error)?.message ?? failure.message})`,
          Code.Unavailable,
        );
        const safe = failure.failure === 'not-sent' || request.idempotent === true;
        if (safe && this.#budget.tryRetry()) continue;
        throw lastError;
      }
      this.report(instance, { reached: true, connectFailure: false });
      const unprocessed = result.status === 503 && result.headers[unprocessedHeader] !== undefined;
      const retryable = unprocessed || (result.status === 503 && request.idempotent === true);
      if (retryable && attempt < this.#maxAttempts && this.#budget.tryRetry()) {
        lastError = new ConnectError(`${target} at ${instance.address} is unavailable`, Code.Unavailable);
        continue;
      }
      return { ...result, instance };
    }
    throw lastError ?? new ConnectError(`no instance of "${target}" is available`, Code.Unavailable);
  }

  async close(): Promise<void> {
    this.#stopForgetting();
    await Promise.all([this.#http.close(), this.#frames?.close()]);
  }

  /** Frames for plain Connect unary POSTs to instances that take them; HTTP/1.1 for the rest. */
  #transportTo(instance: ServiceInstance, request: CallRequest, headers: Record<string, string>): Transport {
    return this.#frames !== undefined &&
      request.method !== 'GET' &&
      instance.metadata[framesMetadataKey] === '1' &&
      codecOf(request.contentType) !== undefined &&
      isIdentity(headers['content-encoding'])
      ? this.#frames
      : this.#http;
  }

  /**
   * An instance for a call made outside `call()` (the gateway's gRPC relay),
   * balanced and ejection-aware like every call. `report` must follow, once.
   */
  pick(target: CallTarget): ServiceInstance | undefined {
    return this.#pick(target, new Set());
  }

  report(instance: ServiceInstance, outcome: CallOutcome): void {
    this.#balancer.report(instance, outcome);
    this.#ejector.report(instance, outcome);
  }

  #pick(request: CallTarget, tried: Set<string>): ServiceInstance | undefined {
    let candidates =
      request.service !== undefined
        ? this.cache.instances(request.service)
        : this.cache.instancesServing(request.protoService ?? '');
    if (request.service !== undefined && request.protoService !== undefined) {
      candidates = candidates.filter((instance) => instance.protoServices.includes(request.protoService!));
    }
    if (tried.size > 0) candidates = candidates.filter((instance) => !tried.has(instance.id));
    candidates = this.#ejector.filter(candidates);
    // A canary with a weight takes that share of calls (see canary-split.ts); without one, nothing to do.
    if (this.cache.hasWeightedCanary) {
      candidates = this.#canarySplit.choose(request.service ?? request.protoService ?? '', candidates);
    }
    return this.#balancer.pick(candidates);
  }
}
