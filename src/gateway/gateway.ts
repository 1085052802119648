/**
 * The gateway: the one public entry point of a system (DESIGN.md §3).
 *
 * Request path (HTTP/1.1):
 *   OPTIONS *                         → CORS preflight
 *   GET /healthz | /readyz            → ops-endpoints.ts
 *   GET /metrics | /_berth/*          → ops-endpoints.ts, or 404 when they have an ops port of their own
 *   POST /rpc                         → json-call-forwarder.ts (application/json only)
 *   /<pkg>.<Service>/<Method>         → connect-pass-through.ts (Connect POST and GET, gRPC-Web)
 *   POST /<service>/<object>/<method> → json-call-forwarder.ts (application/json only)
 *   GET anything else                 → static-files.ts (the web UI), when configured
 * HTTP/2 (gRPC)                       → grpc-pass-through.ts: relayed to an instance serving
 *                                       the proto service, picked by the caller's balancer
 *
 * Calls go through a ServiceCaller (registry cache, balancing, ejection, safe
 * retries). Errors answer micro's JSON `{id, code, detail, status}`, or the
 * caller's protocol for pass-through requests (error-answers.ts). When tracing,
 * each call (every request but OPTIONS and the GETs of ops endpoints and static
 * files) is one SERVER span (request-span.ts), which the relayed call is part
 * of (no CLIENT span of its own: the instance's span is its child), and which is
 * active while the gateway handles the request, so its log lines carry its ids.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ServiceCaller } from '../client/caller.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import type { Registry } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import {
  type ConnectionLimits,
  createDualProtocolServer,
  type DualProtocolServer,
  resolveConnectionLimits,
} from '../service/dual-protocol-server.ts';
import { listenOps, type OpsListener } from '../service/ops-endpoints.ts';
import { readBody } from '../service/read-body.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';
import { ConnectPassThrough } from './connect-pass-through.ts';
import { type CorsOptions, corsHeaders, preflightHeaders } from './cors.ts';
import { type Send, sendError } from './error-answers.ts';
import { GrpcPassThrough } from './grpc-pass-through.ts';
import { JsonCallForwarder } from './json-call-forwarder.ts';
import { KnownServices } from './known-services.ts';
import { OpsEndpoints, opsOnly } from './ops-endpoints.ts';
import { serverSpan } from './request-span.ts';
import { isJsonContentType, parseProtoPath, parseRoutePath, unsupportedContentType } from './rpc-request.ts';
import { type StaticFiles, staticFiles } from './static-files.ts';

export interface GatewayOptions {
  readonly registry: Registry;
  readonly logger?: Logger;
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  readonly cors?: CorsOptions;
  /** Largest request body; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /**
   * The longest a call through the gateway may take; default 10 s. A client's
   * shorter deadline wins and is passed on; the instance is never told this one.
   */
  readonly timeoutMs?: number;
  /**
   * What one client connection may hold: header, request, keep-alive and idle
   * timeouts, pipelined requests, and the number of connections (defaults:
   * connectionLimitDefaults).
   */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  /** Folder served at `/` (the web UI); index.html answers unknown paths. */
  readonly staticDir?: string;
  /** Services the system declares: one of them with no instance is 503, any other name 404. */
  readonly knownServices?: readonly string[];
  /**
   * Proto services the system declares (`shippy.vessel.v1.VesselService`): with no
   * instance they are 503, as are those some instance served since the start;
   * any other is `unimplemented` (404, gRPC 12).
   */
  readonly knownProtoServices?: readonly string[];
  /**
   * Port of a separate plain HTTP server (same host) for /healthz, /readyz,
   * /metrics and /_berth/*; the public port then answers 404 for the last two.
   * Unset: all are served on the public port. 0 picks a free port.
   */
  readonly opsPort?: number;
  /**
   * Continue the trace of a client's `traceparent` (behind a mesh or proxy that
   * sets it). Default false: the gateway is the public entry, so its span starts a
   * new trace, sampled as the configured sampler says, linked to the client's.
   */
  readonly trustTraceparent?: boolean;
}

export class Gateway {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly cache: RegistryCache;
  readonly #options: GatewayOptions;
  readonly #caller: ServiceCaller;
  readonly #grpc: GrpcPassThrough;
  readonly #connect: ConnectPassThrough;
  readonly #json: JsonCallForwarder;
  readonly #static: StaticFiles | undefined;
  readonly #known: KnownServices;
  readonly #ops: OpsEndpoints;
  #opsServer: OpsListener | undefined;
  readonly #bodyLimit: number;
  readonly #connectionLimits: ConnectionLimits;
  readonly #timeoutMs: number;
  #server: DualProtocolServer | undefined;
  #address: { host: string; port: number } | undefined;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.logger = (options.logger ?? silentLogger()).child({ service: 'gateway' });
    this.metrics = createMetrics({ service: 'gateway', instance: `gateway-${process.pid}` });
    this.cache = new RegistryCache(options.registry, this.logger);
    this.#caller = new ServiceCaller({ cache: this.cache });
    this.#bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
    this.#connectionLimits = resolveConnectionLimits(options.connectionLimits);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#static = options.staticDir ? staticFiles(options.staticDir) : undefined;
    this.#known = new KnownServices(this.cache, options.knownServices, options.knownProtoServices);
    this.#grpc = new GrpcPassThrough({
      caller: this.#caller,
      known: this.#known,
      timeoutMs: this.#timeoutMs,
      bodyLimitBytes: this.#bodyLimit,
      trustTraceparent: options.trustTraceparent ?? false,
    });
    this.#connect = new ConnectPassThrough({
      caller: this.#caller,
      cache: this.cache,
      known: this.#known,
      metrics: this.metrics,
      timeoutMs: this.#timeoutMs,
      bodyLimitBytes: this.#bodyLimit,
    });
    this.#json = new JsonCallForwarder({
      caller: this.#caller,
      cache: this.cache,
      known: this.#known,
      metrics: this.metrics,
      logger: this.logger,
      timeoutMs: this.#timeoutMs,
    });
    this.#ops = new OpsEndpoints({
      cache: this.cache,
      metrics: this.metrics,
      logger: this.logger,
      knownServices: options.knownServices,
    });
  }

  get address(): { host: string; port: number } {
    if (!this.#address) throw new Error('gateway not started');
    return this.#address;
  }

  /** Where the ops endpoints listen, when GatewayOptions.opsPort is set. */
  get opsAddress(): { host: string; port: number } | undefined {
    return this.#opsServer && { host: this.#opsServer.host, port: this.#opsServer.port };
  }

  async start(): Promise<{ host: string; port: number }> {
    await this.cache.start();
    this.#server = createDualProtocolServer(
      (req, res) => this.#onHttp1(req, res),
      (req, res) => this.#grpc.serve(req, res),
      undefined,
      this.#connectionLimits,
    );
    const host = this.#options.host ?? '127.0.0.1';
    this.#address = await this.#server.listen(this.#options.port ?? 8080, host);
    if (this.#options.opsPort !== undefined) {
      this.#opsServer = await listenOps(host, this.#options.opsPort, opsOnly(this.#ops, this.logger));
    }
    this.logger.info(
      {
        address: `${this.#address.host}:${this.#address.port}`,
        opsAddress: this.#opsServer && `${this.#opsServer.host}:${this.#opsServer.port}`,
      },
      'gateway listening',
    );
    return this.#address;
  }

  async stop(graceMs = 5_000): Promise<void> {
    this.#server?.stopAccepting();
    await this.#server?.drain(graceMs);
    await this.#opsServer?.close();
    this.#ops.close();
    this.#known.close();
    this.#grpc.close();
    await this.#caller.close();
    await this.cache.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #onHttp1(req: IncomingMessage, res: ServerResponse): void {
    const cors = this.#options.cors ? corsHeaders(this.#options.cors, req.headers) : undefined;
    const send: Send = (status, headers, body) => {
      res.writeHead(status, cors ? { ...headers, ...cors } : headers);
      res.end(body);
    };
    const url = req.url ?? '/';
    const path = url.includes('?') ? url.slice(0, url.indexOf('?')) : url;
    if (req.method === 'OPTIONS') {
      const preflight = this.#options.cors ? preflightHeaders(this.#options.cors, req.headers) : undefined;
      res.writeHead(preflight ? 204 : 403, preflight ?? {});
      res.end();
      return;
    }
    // /rpc, the hot path, is no proto path: spared the regex.
    const proto = path === '/rpc' ? undefined : parseProtoPath(path);
    const span =
      proto || req.method === 'POST'
        ? serverSpan(req, res, path, this.#options.trustTraceparent ?? false)
        : undefined;
    // Active while it is handled, so log lines carry its ids; not tracing, no closure either.
    if (span === undefined) this.#route(req, res, url, path, proto, cors, send, span);
    else span.run(() => this.#route(req, res, url, path, proto, cors, send, span));
  }

  #route(
    req: IncomingMessage,
    res: ServerResponse,
    url: string,
    path: string,
    proto: ReturnType<typeof parseProtoPath>,
    cors: Record<string, string> | undefined,
    send: Send,
    span: CallSpan | undefined,
  ): void {
    if (proto) {
      span?.setAttribute('rpc.service', proto.protoService);
      span?.setAttribute('rpc.method', proto.method);
      this.#connect.serve(proto.protoService, path, url, req, res, cors, span);
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      this.#serveGet(path, req, res, send);
      return;
    }
    if (req.method !== 'POST') {
      this.#sendError(
        send,
        'gateway',
        new ConnectError(`method ${req.method} is not allowed`, Code.Unimplemented),
        405,
      );
      return;
    }
    const started = performance.now();
    const rpc = path === '/rpc';
    const route = rpc ? undefined : parseRoutePath(path);
    if ((rpc || route) && !isJsonContentType(req.headers['content-type'])) {
      // Answered before the body is read; closing the connection drops what is left of it.
      res.setHeader('connection', 'close');
      this.#sendError(send, 'gateway', unsupportedContentType(req.headers['content-type'], path), 415);
      return;
    }
    this.#readBody(req, res, send, span, (body) => {
      if (rpc) this.#json.forwardRpc(body, { req, send, started, span, path });
      else if (route) this.#json.forwardRoute(route, body, { req, send, started, span, path });
      else this.#sendError(send, 'gateway', new ConnectError(`no route for POST ${path}`, Code.NotFound));
    });
  }

  #serveGet(path: string, req: IncomingMessage, res: ServerResponse, send: Send): void {
    if (this.#ops.serve(path, send, this.#options.opsPort === undefined)) return;
    if (this.#static) {
      this.#static(req, res, () =>
        this.#sendError(send, 'gateway', new ConnectError(`${path} not found`, Code.NotFound)),
      );
      return;
    }
    this.#sendError(send, 'gateway', new ConnectError(`no route for GET ${path}`, Code.NotFound));
  }

  /** `then` runs in `span`: the body's events come in the connection's context, not the request's. */
  #readBody(
    req: IncomingMessage,
    res: ServerResponse,
    send: Send,
    span: CallSpan | undefined,
    then: (body: Buffer) => void,
  ): void {
    readBody(req, res, this.#bodyLimit, {
      onBody: span === undefined ? then : (body) => span.run(() => then(body)),
      onTooLarge: () =>
        this.#sendError(
          send,
          'gateway',
          new ConnectError(
            `request body exceeds the limit of ${this.#bodyLimit} bytes`,
            Code.ResourceExhausted,
          ),
          413,
        ),
    });
  }

  #sendError(send: Send, id: string, error: ConnectError, status?: number): void {
    sendError(send, id, error, this.logger, status);
  }
}
