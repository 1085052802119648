/**
 * A berth service: proto services served on one port (Connect, gRPC, gRPC-Web),
 * registered in a registry, with health, metrics, clients to other services and
 * graceful shutdown.
 *
 * Request path (HTTP/1.1, the hot path): dual-protocol-server → #onHttp1 →
 *   POST /<pkg>.<Service>/<Method> with a Connect unary content type → #serveUnary
 *   GET /healthz | /readyz | /metrics → #serveOps
 *   anything else → connect-node's adapter (gRPC-Web, Connect GET, errors)
 * HTTP/2 (gRPC, and Connect/gRPC-Web over h2) → connect-node's adapter.
 *
 * Lifecycle: start() listens, registers, reports serving. stop() reports not
 * serving, deregisters, keeps serving for `deregisterDelayMs` so every client's
 * cache has forgotten it, stops accepting, waits up to `shutdownGraceMs` for
 * requests in flight, then closes resources in reverse order of `onClose`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { DescMessage, DescMethod, DescService } from '@bufbuild/protobuf';
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import {
  type ConnectRouter,
  createContextValues,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
} from '@connectrpc/connect';
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { type CallerOptions, ServiceCaller, unprocessedHeader } from '../client/caller.ts';
import { createTypedClient, type TypedClient, type TypedClientOptions } from '../client/typed-client.ts';
import { Code, ConnectError, toConnectError } from '../errors/berth-error.ts';
import { Health } from '../gen/grpc/health/v1/health_pb.js';
import { HealthState, type ReadinessCheck } from '../health/health.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import {
  codecOf,
  contentTypeJson,
  contentTypeProto,
  decodeMessage,
  encodeError,
  encodeMessage,
  isIdentity,
  parseTimeoutMs,
  type UnaryCodec,
} from '../protocol/connect-unary.ts';
import { framesMetadataKey, type RequestFrame } from '../protocol/frames.ts';
import type { Registry, ServiceInstance } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import { deadlines, type PendingDeadline } from './deadlines.ts';
import { createDualProtocolServer, type DualProtocolServer } from './dual-protocol-server.ts';
import { type FrameResponder, FrameServerConnection } from './frame-server.ts';
import { currentRequest, type RequestContext, runInRequest } from './request-context.ts';

export interface ServiceOptions {
  /** Short name others call it by, e.g. `vessel`. */
  readonly name: string;
  readonly version?: string;
  readonly system?: string;
  readonly registry: Registry;
  readonly logger?: Logger;
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Host others reach it by, when `host` is a wildcard; default `host`, or 127.0.0.1 for 0.0.0.0. */
  readonly advertiseHost?: string;
  readonly metadata?: Record<string, string>;
  /** Largest request body accepted; default 4 MiB. */
  readonly bodyLimitBytes?: number;
  readonly shutdownGraceMs?: number;
  /** How long a deregistered instance keeps serving so clients' caches forget it first. */
  readonly deregisterDelayMs?: number;
  /** Options of the clients this service uses to call others. */
  readonly client?: Omit<CallerOptions, 'cache'>;
}

interface UnaryRoute {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly input: DescMessage;
  readonly output: DescMessage;
  readonly impl: (request: unknown, context: HandlerContext) => unknown;
  /** `VesselService.Create`, the label used in metrics and logs. */
  readonly label: string;
}

type Closer = () => Promise<void> | void;
/** Sends a unary call's answer, whatever carried the call (HTTP/1.1 or a frame). */
type UnaryReply = (
  status: number,
  contentType: string,
  body: string | Buffer,
  unprocessed: boolean,
  /** Response headers (and `trailer-` prefixed trailers) the handler set. */
  metadata?: Record<string, string>,
) => void;
type NodeHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

export class Service {
  readonly name: string;
  readonly version: string;
  readonly system: string | undefined;
  readonly logger: Logger;
  readonly health: HealthState;
  readonly metrics: Metrics;
  readonly instanceId: string;
  readonly #options: ServiceOptions;
  readonly #routes = new Map<string, UnaryRoute>();
  readonly #registrations: Array<(router: ConnectRouter) => void> = [];
  readonly #protoServices: string[] = [];
  readonly #closers: Closer[] = [];
  readonly #shutdown = new AbortController();
  #server: DualProtocolServer | undefined;
  readonly #frameConnections = new Set<FrameServerConnection>();
  #adapter: Promise<NodeHandler> | undefined;
  #instance: ServiceInstance | undefined;
  #cache: RegistryCache | undefined;
  #caller: ServiceCaller | undefined;
  #inFlight = 0;
  #draining = false;
  #requestCounter = 0;
  #stopping: Promise<void> | undefined;

  constructor(options: ServiceOptions) {
    this.#options = options;
    this.name = options.name;
    this.version = options.version ?? '0.0.0';
    this.system = options.system;
    this.instanceId = `${options.name}-${randomBytes(4).toString('hex')}`;
    this.logger = (options.logger ?? silentLogger()).child({
      service: options.name,
      instance: this.instanceId,
    });
    this.health = new HealthState([
      options.name,
      ...(options.system ? [`${options.system}.${options.name}`] : []),
    ]);
    this.metrics = createMetrics({ service: options.name, instance: this.instanceId });
  }

  /** Serves a proto service with `impl` (methods not given answer Unimplemented). */
  handle<S extends DescService>(schema: S, impl: Partial<ServiceImpl<S>>): this {
    if (this.#server) throw new Error(`handle(${schema.typeName}) must be called before start()`);
    const target = impl as Record<string, unknown>;
    for (const method of schema.methods) {
      const fn = target[method.localName];
      if (method.methodKind !== 'unary' || typeof fn !== 'function') continue;
      const route: UnaryRoute = {
        service: schema,
        method,
        input: method.input,
        output: method.output,
        impl: fn.bind(impl) as UnaryRoute['impl'],
        label: `${schema.name}.${method.name}`,
      };
      this.#routes.set(`/${schema.typeName}/${method.name}`, route);
      // The short form `/<Service>/<Method>` is what the gateway calls: it knows a
      // service by name and `VesselService.Create`, not the proto package.
      this.#routes.set(`/${schema.name}/${method.name}`, route);
    }
    this.#registrations.push((router) => router.service(schema, impl));
    this.#protoServices.push(schema.typeName);
    this.health.addName(schema.typeName);
    return this;
  }

  /** A dependency that must answer for the service to be ready (database, broker…). */
  checkReady(name: string, check: ReadinessCheck): this {
    this.health.addCheck(name, check);
    return this;
  }

  /** A resource to close at shutdown, after requests have drained; closed in reverse order. */
  onClose(closer: Closer): this {
    this.#closers.push(closer);
    return this;
  }

  /**
   * The service's logger with the current request's id, so one request's lines can
   * be followed across services (the id travels as `x-request-id` on every call).
   */
  requestLogger(): Logger {
    const requestId = currentRequest()?.requestId;
    return requestId === undefined ? this.logger : this.logger.child({ requestId });
  }

  /** Calls to other services, balanced over their live instances. */
  get caller(): ServiceCaller {
    if (!this.#caller) {
      this.#cache = new RegistryCache(this.#options.registry, this.logger);
      void this.#cache.start();
      this.#caller = new ServiceCaller({ ...this.#options.client, cache: this.#cache });
    }
    return this.#caller;
  }

  client<S extends DescService>(schema: S, options?: TypedClientOptions): TypedClient<S> {
    return createTypedClient(this.caller, schema, options);
  }

  get instance(): ServiceInstance | undefined {
    return this.#instance;
  }

  /** Aborts when shutdown begins: long-running loops (relays, consumers) stop on it. */
  get shutdownSignal(): AbortSignal {
    return this.#shutdown.signal;
  }

  async start(): Promise<ServiceInstance> {
    if (this.#server) throw new Error(`service ${this.name} already started`);
    this.#server = createDualProtocolServer(
      (req, res) => this.#onHttp1(req, res),
      (req, res) => this.#onHttp2(req, res),
      (socket, first) => this.#onFrames(socket, first),
    );
    const host = this.#options.host ?? '127.0.0.1';
    const bound = await this.#server.listen(this.#options.port ?? 0, host);
    const advertise =
      this.#options.advertiseHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
    this.#instance = {
      id: this.instanceId,
      name: this.name,
      system: this.system,
      version: this.version,
      address: `${advertise}:${bound.port}`,
      protoServices: [...this.#protoServices],
      endpoints: [...new Set([...this.#routes.values()].map((route) => route.label))],
      idempotentEndpoints: [
        ...new Set(
          [...this.#routes.values()]
            .filter(
              (route) => route.method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN,
            )
            .map((route) => route.label),
        ),
      ],
      metadata: { ...this.#options.metadata, pid: String(process.pid), [framesMetadataKey]: '1' },
    };
    // A service that calls others is ready only once its registry cache holds the
    // first full list: otherwise its first calls find no instance of what is running.
    if (this.#cache) await this.#cache.start();
    await this.#options.registry.register(this.#instance);
    this.health.setServing(true);
    this.logger.info({ address: this.#instance.address, protoServices: this.#protoServices }, 'serving');
    return this.#instance;
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #stop(): Promise<void> {
    this.health.setServing(false);
    if (this.#instance) {
      await this.#options.registry.deregister(this.#instance.id).catch((error: unknown) => {
        this.logger.warn(
          { err: error },
          'deregistration failed; the registry will drop this instance when it exits',
        );
      });
      await new Promise((resolve) => setTimeout(resolve, this.#options.deregisterDelayMs ?? 750));
    }
    this.#draining = true;
    if (this.#server) {
      this.#server.stopAccepting();
      for (const connection of this.#frameConnections) connection.goAway();
      const grace = this.#options.shutdownGraceMs ?? 10_000;
      const deadline = Date.now() + grace;
      while (this.#inFlight > 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      this.#shutdown.abort();
      await this.#server.drain(Math.max(0, deadline - Date.now()));
    }
    for (const close of this.#closers.reverse()) {
      try {
        await close();
      } catch (error) {
        this.logger.warn({ err: error }, 'closing a resource failed');
      }
    }
    await this.#caller?.close();
    await this.#cache?.close();
    this.logger.info('stopped');
  }

  #onHttp1(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'POST') {
      const route = this.#routes.get(url);
      // Compressed bodies go to connect-node, which negotiates and decompresses them.
      const codec =
        route && isIdentity(req.headers['content-encoding']) && codecOf(req.headers['content-type']);
      if (route && codec) {
        this.#serveUnary(route, codec, req, res);
        return;
      }
      if (!route && shortPath.test(url)) {
        const body = this.#noSuchMethod(url);
        res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        req.resume();
        return;
      }
    } else if (req.method === 'GET' && this.#serveOps(url, res)) {
      return;
    }
    this.#viaAdapter(req, res);
  }

  #onHttp2(req: Http2ServerRequest, res: Http2ServerResponse): void {
    if (req.method === 'GET' && this.#serveOps(req.url, res)) return;
    this.#viaAdapter(req, res);
  }

  /**
   * connect-node's adapter serves what the fast path does not (gRPC, gRPC-Web,
   * Connect GET and streaming). It is loaded on first use: most local services
   * never see such a request, and loading it costs ~6 MB and ~0.2 s of start-up.
   * The request body waits, unread, in the meantime.
   */
  #viaAdapter(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
    this.#adapter ??= import('@connectrpc/connect-node').then(
      ({ connectNodeAdapter }) =>
        connectNodeAdapter({
          routes: (router) => {
            for (const register of this.#registrations) register(router);
            router.service(Health, this.health.grpcService());
          },
          interceptors: [this.#contextInterceptor()],
          readMaxBytes: this.#options.bodyLimitBytes ?? 4 * 1024 * 1024,
          // The same JSON as the fast path: proto field names (snake_case).
          jsonOptions: { useProtoFieldName: true },
          shutdownSignal: this.#shutdown.signal,
        }) as NodeHandler,
    );
    this.#adapter.then(
      (handle) => handle(req, res),
      (error: unknown) => {
        this.logger.error({ err: error }, 'cannot load the Connect adapter');
        (res as ServerResponse).writeHead(500);
        res.end();
      },
    );
  }

  /** Health and metrics endpoints; false when `url` is none of them. */
  #serveOps(url: string, res: ServerResponse | Http2ServerResponse): boolean {
    const send = (status: number, contentType: string, body: string) => {
      (res as ServerResponse).writeHead(status, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    switch (url) {
      case '/healthz':
        send(
          200,
          'application/json',
          JSON.stringify({ status: 'ok', service: this.name, instance: this.instanceId }),
        );
        return true;
      case '/readyz':
        void this.health.readiness().then(
          (readiness) => send(readiness.ready ? 200 : 503, 'application/json', JSON.stringify(readiness)),
          (error: unknown) =>
            send(503, 'application/json', JSON.stringify({ ready: false, error: String(error) })),
        );
        return true;
      case '/metrics':
        void this.metrics.render().then(
          (rendered) => send(200, rendered.contentType, rendered.body),
          (error: unknown) => send(500, 'text/plain', String(error)),
        );
        return true;
      default:
        return false;
    }
  }

  /** Connect unary over HTTP/1.1: reads the body within the limit, then answers as any unary call. */
  #serveUnary(route: UnaryRoute, codec: UnaryCodec, req: IncomingMessage, res: ServerResponse): void {
    const reply: UnaryReply = (status, contentType, body, unprocessed, metadata) => {
      const headers: Record<string, string | number> = {
        ...metadata,
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
      };
      if (unprocessed) headers[unprocessedHeader] = '1';
      if (this.#draining) headers.connection = 'close';
      res.writeHead(status, headers);
      res.end(body);
    };
    const limit = this.#bodyLimit;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      this.#replyTooLarge(route, reply, declared);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        this.#replyTooLarge(route, reply, size);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > limit) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      this.#answerUnary(route, codec, req.url ?? '', req.headers, body, reply);
    });
  }

  #onFrames(socket: Socket, first: Buffer): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const connection = new FrameServerConnection(socket, first, {
      // The frame's path and headers come on top of the body.
      maxFrameBytes: this.#bodyLimit + 64 * 1024,
      onRequest: (frame, respond) => this.#serveFrame(frame, respond),
      onProtocolError: (reason) =>
        this.logger.warn({ remote, reason }, 'dropped a connection that does not speak berth frames'),
      onOversized: (size, respond) =>
        respond(
          413,
          frameHeadersJson(contentTypeJson, false),
          encodeError(tooLarge(this.#bodyLimit, size)).body,
        ),
    });
    this.#frameConnections.add(connection);
    socket.once('close', () => this.#frameConnections.delete(connection));
  }

  #serveFrame(frame: RequestFrame, respond: FrameResponder): void {
    const reply: UnaryReply = (status, contentType, body, unprocessed, metadata) =>
      respond(
        status,
        metadata === undefined
          ? frameHeadersJson(contentType, unprocessed)
          : JSON.stringify({ ...metadata, 'content-type': contentType }),
        body,
      );
    const route = this.#routes.get(frame.path);
    // Callers send compressed calls over HTTP (connect-node decompresses them); frames carry none.
    const codec = isIdentity(frame.headers['content-encoding']) && codecOf(frame.headers['content-type']);
    if (route && codec) {
      if (frame.body.length > this.#bodyLimit) this.#replyTooLarge(route, reply, frame.body.length);
      else this.#answerUnary(route, codec, frame.path, frame.headers, frame.body, reply);
      return;
    }
    if (route) {
      const unsupported = new ConnectError(
        `unsupported content type ${frame.headers['content-type']} or encoding ${frame.headers['content-encoding']}`,
        Code.InvalidArgument,
      );
      reply(415, contentTypeJson, encodeError(unsupported).body, false);
    } else reply(404, contentTypeJson, this.#noSuchMethod(frame.path), false);
  }

  /** Unknown paths answer 404 with Connect's `unimplemented`, as connect-node's router does. */
  #noSuchMethod(path: string): string {
    return encodeError(
      new ConnectError(`${this.name} has no method ${path.slice(1).replace('/', '.')}`, Code.Unimplemented),
    ).body;
  }

  get #bodyLimit(): number {
    return this.#options.bodyLimitBytes ?? 4 * 1024 * 1024;
  }

  #replyTooLarge(route: UnaryRoute, reply: UnaryReply, size: number): void {
    const encoded = encodeError(tooLarge(this.#bodyLimit, size));
    reply(encoded.status, contentTypeJson, encoded.body, false);
    this.metrics.observeRpc(route.label, codeToString(Code.ResourceExhausted), 0);
  }

  /**
   * One unary call, whatever carried it: decode, run the handler inside its request
   * context (deadline, request id, metadata), encode, and reply exactly once,
   * with a DeadlineExceeded error if the deadline passes first.
   */
  #answerUnary(
    route: UnaryRoute,
    codec: UnaryCodec,
    url: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
    reply: UnaryReply,
  ): void {
    if (this.#draining) {
      const message = JSON.stringify({ code: 'unavailable', message: `${this.name} is shutting down` });
      reply(503, contentTypeJson, message, true);
      return;
    }
    const started = performance.now();
    this.#inFlight++;
    const timeoutMs = parseTimeoutMs(headers['connect-timeout-ms']);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    let expiry: PendingDeadline | undefined;
    let context: UnaryHandlerContext | undefined;
    let finished = false;
    const finish = (status: number, answer: string | Buffer, code: Code | undefined) => {
      if (finished) return;
      finished = true;
      this.#inFlight--;
      expiry?.cancel();
      const contentType = status === 200 ? contentTypeOf(codec) : contentTypeJson;
      reply(status, contentType, answer, false, context?.responseMetadata());
      this.metrics.observeRpc(
        route.label,
        code === undefined ? 'ok' : codeToString(code),
        (performance.now() - started) / 1000,
      );
    };
    const fail = (error: unknown) => {
      // A handler that gave up because its context's signal fired at the deadline
      // failed by the deadline, whatever it threw.
      const connectError =
        deadline !== undefined && Date.now() >= deadline && !(error instanceof ConnectError)
          ? new ConnectError('deadline exceeded', Code.DeadlineExceeded)
          : toConnectError(error);
      if (connectError.code === Code.Internal || connectError.code === Code.Unknown) {
        this.requestLogger().error({ err: error, method: route.label }, 'handler failed');
      }
      const encoded = encodeError(connectError);
      finish(encoded.status, encoded.body, connectError.code);
    };
    if (deadline !== undefined) {
      expiry = deadlines.add(deadline, () =>
        fail(new ConnectError('deadline exceeded', Code.DeadlineExceeded)),
      );
    }
    const givenId = headers['x-request-id'];
    const requestId = typeof givenId === 'string' ? givenId : `${this.instanceId}-${++this.#requestCounter}`;
    runInRequest({ deadline, requestId, headers }, () => {
      try {
        const message = decodeMessage(route.input, codec, body);
        context = new UnaryHandlerContext(route, url, headers, deadline, this.#shutdown.signal);
        Promise.resolve(route.impl(message, context)).then((output) => {
          try {
            finish(200, encodeMessage(route.output, codec, output), undefined);
          } catch (error) {
            fail(error);
          }
        }, fail);
      } catch (error) {
        fail(error);
      }
    });
  }

  /** Carries deadline, request id and metadata into handlers served by connect-node. */
  #contextInterceptor(): Interceptor {
    return (next) => (request) => {
      const timeoutMs =
        parseTimeoutMs(request.header.get('connect-timeout-ms') ?? undefined) ??
        grpcTimeoutMs(request.header.get('grpc-timeout'));
      const headers: Record<string, string> = {};
      request.header.forEach((value, key) => {
        headers[key] = value;
      });
      const context: RequestContext = {
        deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
        requestId: headers['x-request-id'] ?? `${this.instanceId}-${++this.#requestCounter}`,
        headers,
      };
      return runInRequest(context, () => next(request));
    };
  }
}

function tooLarge(limit: number, size: number): ConnectError {
  return new ConnectError(
    `request body of ${size} bytes exceeds the limit of ${limit}`,
    Code.ResourceExhausted,
  );
}

function contentTypeOf(codec: UnaryCodec): string {
  return codec === 'json' ? contentTypeJson : contentTypeProto;
}

/** Response headers of a frame, as JSON: one of four strings, made once. */
const frameHeaders = new Map<string, string>();
function frameHeadersJson(contentType: string, unprocessed: boolean): string {
  const key = unprocessed ? `${contentType};unprocessed` : contentType;
  let json = frameHeaders.get(key);
  if (json === undefined) {
    json = JSON.stringify({
      'content-type': contentType,
      ...(unprocessed ? { [unprocessedHeader]: '1' } : {}),
    });
    frameHeaders.set(key, json);
  }
  return json;
}

/** `/<Service>/<Method>` without a package: only the fast path serves this form. */
const shortPath = /^\/[A-Za-z_]\w*\/[A-Za-z_]\w*$/;

/** gRPC's `grpc-timeout` (`<digits><unit>`) in ms. */
function grpcTimeoutMs(value: string | null): number | undefined {
  const match = value ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  if (!match) return undefined;
  const amount = Number(match[1]);
  const perUnit: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return Math.ceil(amount * perUnit[match[2]]);
}

/** HandlerContext for the fast path; headers and signal are built only if a handler reads them. */
class UnaryHandlerContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestMethod = 'POST';
  readonly protocolName = 'connect';
  readonly url: string;
  readonly #headers: IncomingHttpHeaders;
  readonly #deadline: number | undefined;
  readonly #shutdownSignal: AbortSignal;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #signal: AbortSignal | undefined;
  #values: HandlerContext['values'] | undefined;

  constructor(
    route: UnaryRoute,
    url: string,
    headers: IncomingHttpHeaders,
    deadline: number | undefined,
    shutdownSignal: AbortSignal,
  ) {
    this.method = route.method;
    this.service = route.service;
    this.url = url;
    this.#headers = headers;
    this.#deadline = deadline;
    this.#shutdownSignal = shutdownSignal;
  }

  get requestHeader(): Headers {
    if (!this.#requestHeader) {
      const headers = new Headers();
      for (const [name, value] of Object.entries(this.#headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      this.#requestHeader = headers;
    }
    return this.#requestHeader;
  }

  get responseHeader(): Headers {
    this.#responseHeader ??= new Headers();
    return this.#responseHeader;
  }

  get responseTrailer(): Headers {
    this.#responseTrailer ??= new Headers();
    return this.#responseTrailer;
  }

  /**
   * What the handler set, as Connect unary sends it: headers as they are, trailers
   * as `trailer-<name>` headers. Undefined when it set nothing (the usual case).
   */
  responseMetadata(): Record<string, string> | undefined {
    if (this.#responseHeader === undefined && this.#responseTrailer === undefined) return undefined;
    const metadata: Record<string, string> = {};
    this.#responseHeader?.forEach((value, name) => {
      metadata[name] = value;
    });
    this.#responseTrailer?.forEach((value, name) => {
      metadata[`trailer-${name}`] = value;
    });
    return metadata;
  }

  get signal(): AbortSignal {
    if (!this.#signal) {
      const signals = [this.#shutdownSignal];
      if (this.#deadline !== undefined)
        signals.push(AbortSignal.timeout(Math.max(0, this.#deadline - Date.now())));
      this.#signal = AbortSignal.any(signals);
    }
    return this.#signal;
  }

  get values(): HandlerContext['values'] {
    this.#values ??= createContextValues();
    return this.#values;
  }

  timeoutMs = (): number | undefined =>
    this.#deadline === undefined ? undefined : this.#deadline - Date.now();
}
