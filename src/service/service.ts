/**
 * A berth service: proto services served on one port (Connect, gRPC, gRPC-Web,
 * berth frames), registered in a registry, with health, metrics, clients to other
 * services and graceful shutdown. This file is the lifecycle and the dispatch of
 * the port; each way of serving is a module of its own:
 *
 * Request path (HTTP/1.1, the hot path): dual-protocol-server → #onHttp1 →
 *   POST /<pkg>.<Service>/<Method> with a Connect unary content type → unary-server.ts
 *   GET /healthz | /readyz | /metrics → ops-endpoints.ts (unless on an ops port of their own)
 *   anything else → connect-adapter.ts (gRPC-Web, Connect GET, errors)
 * HTTP/2 (gRPC, and Connect/gRPC-Web over h2) → connect-adapter.ts.
 * berth frames → frames-endpoint.ts → unary-server.ts.
 *
 * Lifecycle: start() listens, registers, reports serving. stop() reports not
 * serving, deregisters, keeps serving for `deregisterDelayMs` so every client's
 * cache has forgotten it, stops accepting, waits up to `shutdownGraceMs` for
 * requests in flight, then closes resources in reverse order of `onClose`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { DescService, Registry as TypeRegistry } from '@bufbuild/protobuf';
import type { ConnectRouter, ServiceImpl } from '@connectrpc/connect';
import { type CallerOptions, ServiceCaller } from '../client/caller.ts';
import { createTypedClient, type TypedClient, type TypedClientOptions } from '../client/typed-client.ts';
import { currentRequest } from '../context/request-context.ts';
import { HealthState, type ReadinessCheck } from '../health/health.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { codecOf, isIdentity } from '../protocol/connect-unary.ts';
import { framesMetadataKey } from '../protocol/frames.ts';
import { opsPortMetadataKey, type Registry, type ServiceInstance } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import { ConnectAdapter } from './connect-adapter.ts';
import {
  type ConnectionLimits,
  createDualProtocolServer,
  type DualProtocolServer,
  resolveConnectionLimits,
} from './dual-protocol-server.ts';
import { FramesEndpoint } from './frames-endpoint.ts';
import { listenOps, type OpsListener, opsOnly, serveOps } from './ops-endpoints.ts';
import { shortPath, UnaryServer } from './unary-server.ts';
import { closeWhenAnsweredEarly, resetWhenAnswered } from './unread-requests.ts';

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
  /**
   * Port of a separate plain HTTP/1.1 listener (same host) for /healthz, /readyz
   * and /metrics, which the service's port then no longer serves (404); 0 picks a
   * free one. Registered as `metadata.opsPort`. Default: none, they are served on `port`.
   */
  readonly opsPort?: number;
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
  /**
   * What one connection may hold: header, request, keep-alive and idle timeouts,
   * pipelined requests, connections, HTTP/2 streams (defaults: connectionLimitDefaults).
   */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  /**
   * Message types `google.protobuf.Any` fields may carry in JSON, besides every
   * message of the files the service serves and their imports (always included):
   * e.g. `createRegistry(MyDetail)` for a type declared in no such file.
   */
  readonly typeRegistry?: TypeRegistry;
}

type Closer = () => Promise<void> | void;

export class Service {
  readonly name: string;
  readonly version: string;
  readonly system: string | undefined;
  readonly logger: Logger;
  readonly health: HealthState;
  readonly metrics: Metrics;
  readonly instanceId: string;
  readonly #options: ServiceOptions;
  readonly #shutdown = new AbortController();
  readonly #unary: UnaryServer;
  readonly #frames: FramesEndpoint;
  readonly #adapter: ConnectAdapter;
  readonly #registrations: Array<(router: ConnectRouter) => void> = [];
  readonly #protoServices: string[] = [];
  readonly #schemas: DescService[] = [];
  /** `/<pkg.Service>/<Method>` of every method handled, streaming ones included. */
  readonly #procedures = new Set<string>();
  /** ServiceOptions.opsPort, else the runtime's (start()). */
  #opsPort: number | undefined;
  readonly #connectionLimits: ConnectionLimits;
  readonly #closers: Closer[] = [];
  #server: DualProtocolServer | undefined;
  #ops: OpsListener | undefined;
  #instance: ServiceInstance | undefined;
  #cache: RegistryCache | undefined;
  #caller: ServiceCaller | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ServiceOptions) {
    this.#options = options;
    // Checked here, so a bad limit fails where the service is built, naming the limit.
    this.#connectionLimits = resolveConnectionLimits(options.connectionLimits);
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
    const bodyLimitBytes = options.bodyLimitBytes ?? 4 * 1024 * 1024;
    this.#unary = new UnaryServer({
      name: this.name,
      instanceId: this.instanceId,
      logger: this.logger,
      metrics: this.metrics,
      bodyLimitBytes,
      shutdownSignal: this.#shutdown.signal,
      typeRegistry: options.typeRegistry,
    });
    this.#frames = new FramesEndpoint(this.#unary, this.logger, bodyLimitBytes);
    this.#adapter = new ConnectAdapter({
      routes: (router) => {
        for (const register of this.#registrations) register(router);
      },
      health: this.health,
      typeRegistry: () => this.#unary.typeRegistry,
      logger: this.logger,
      bodyLimitBytes,
      shutdownSignal: this.#shutdown.signal,
      newRequestId: () => this.#unary.nextRequestId(),
    });
  }

  /** Serves a proto service with `impl` (methods not given answer Unimplemented). */
  handle<S extends DescService>(schema: S, impl: Partial<ServiceImpl<S>>): this {
    if (this.#server) throw new Error(`handle(${schema.typeName}) must be called before start()`);
    this.#unary.addService(schema, impl);
    this.#registrations.push((router) => router.service(schema, impl));
    this.#protoServices.push(schema.typeName);
    this.#schemas.push(schema);
    for (const method of schema.methods) this.#procedures.add(`/${schema.typeName}/${method.name}`);
    this.health.addName(schema.typeName);
    return this;
  }

  /** The proto services it serves (its ops endpoint `/descriptors` describes them). */
  get schemas(): readonly DescService[] {
    return this.#schemas;
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

  /**
   * Listens, registers and serves. `defaults` are what the runtime supplies for
   * options the service left unset: runMain passes BERTH_OPS_PORT's port (on
   * Kubernetes the probes use it), so a service built without `opsPort` still serves
   * its ops endpoints where they are looked for.
   */
  async start(defaults: Pick<ServiceOptions, 'opsPort'> = {}): Promise<ServiceInstance> {
    if (this.#server) throw new Error(`service ${this.name} already started`);
    this.#opsPort = this.#options.opsPort ?? defaults.opsPort;
    this.#server = createDualProtocolServer(
      (req, res) => this.#onHttp1(req, res),
      (req, res) => this.#onHttp2(req, res),
      (socket, first) => this.#frames.accept(socket, first),
      this.#connectionLimits,
    );
    const host = this.#options.host ?? '127.0.0.1';
    const bound = await this.#server.listen(this.#options.port ?? 0, host);
    if (this.#opsPort !== undefined) {
      try {
        this.#ops = await listenOps(host, this.#opsPort, opsOnly(this));
      } catch (error) {
        this.#server.stopAccepting();
        await this.#server.drain(0);
        throw error;
      }
    }
    const advertise =
      this.#options.advertiseHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
    const endpoints = this.#unary.endpoints();
    this.#instance = {
      id: this.instanceId,
      name: this.name,
      system: this.system,
      version: this.version,
      address: `${advertise}:${bound.port}`,
      protoServices: [...this.#protoServices],
      endpoints: endpoints.all,
      idempotentEndpoints: endpoints.idempotent,
      metadata: {
        ...this.#options.metadata,
        pid: String(process.pid),
        [framesMetadataKey]: '1',
        ...(this.#ops ? { [opsPortMetadataKey]: String(this.#ops.port) } : {}),
      },
    };
    // A service that calls others is ready only once its registry cache holds the
    // first full list: otherwise its first calls find no instance of what is running.
    if (this.#cache) await this.#cache.start();
    await this.#options.registry.register(this.#instance);
    this.health.setServing(true);
    this.logger.info(
      { address: this.#instance.address, opsPort: this.#ops?.port, protoServices: this.#protoServices },
      'serving',
    );
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
    this.#unary.startDraining();
    if (this.#server) {
      this.#server.stopAccepting();
      this.#frames.goAway();
      const grace = this.#options.shutdownGraceMs ?? 10_000;
      const deadline = Date.now() + grace;
      while (this.#unary.inFlight > 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      this.#shutdown.abort();
      await this.#server.drain(Math.max(0, deadline - Date.now()));
    }
    // Probes reach the ops port until the requests have drained, seeing "not serving".
    await this.#ops?.close();
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
      const route = this.#unary.route(url);
      // Compressed bodies go to connect-node, which negotiates and decompresses them.
      const codec =
        route && isIdentity(req.headers['content-encoding']) && codecOf(req.headers['content-type']);
      if (route && codec) {
        this.#unary.serveHttp1(route, codec, req, res);
        return;
      }
      if (!route && shortPath.test(url)) {
        const body = this.#unary.noSuchMethod(url);
        // Closed after the answer, as read-body.ts does: the request's body is not worth reading.
        res.writeHead(404, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          connection: 'close',
        });
        res.end(body);
        return;
      }
      // connect-node answers 404 only once it has read the whole body; closed after it instead.
      if (!route && !this.#procedures.has(url)) res.setHeader('connection', 'close');
      closeWhenAnsweredEarly(req, res);
    } else if (req.method === 'GET' && this.#opsOnPublicPort(url, res)) {
      return;
    }
    this.#adapter.serve(req, res);
  }

  #onHttp2(req: Http2ServerRequest, res: Http2ServerResponse): void {
    if (req.method === 'GET' && this.#opsOnPublicPort(req.url, res)) return;
    resetWhenAnswered(req, res);
    this.#adapter.serve(req, res);
  }

  /** The ops endpoints on the service's port, unless they have one of their own (connect-node then answers 404). */
  #opsOnPublicPort(url: string, res: ServerResponse | Http2ServerResponse): boolean {
    return this.#opsPort === undefined && serveOps(this, url, res);
  }
}
