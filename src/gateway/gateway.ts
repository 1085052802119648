/**
 * The gateway: the one public entry point of a system (DESIGN.md §3).
 *
 * Request path (HTTP/1.1):
 *   OPTIONS *                         → CORS preflight
 *   GET /healthz | /readyz            → ops-endpoints.ts
 *   GET /metrics | /_berth/*          → ops-endpoints.ts, or 404 when they have an ops port of their own
 *   POST /rpc                         → parseRpcBody → #forwardJson        (application/json only)
 *   /<pkg>.<Service>/<Method>         → connect-pass-through.ts (Connect POST and GET, gRPC-Web)
 *   POST /<service>/<object>/<method> → parseRoutePath → #forwardJson  (application/json only)
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
import { forwardableHeaders } from '../context/request-context.ts';
import { Code, ConnectError, codeName, toConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { contentTypeJson, decodeError } from '../protocol/connect-unary.ts';
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
import { KnownServices } from './known-services.ts';
import { OpsEndpoints, opsOnly } from './ops-endpoints.ts';
import { routed, serverSpan } from './request-span.ts';
import {
  isJsonContentType,
  parseProtoPath,
  parseRoutePath,
  parseRpcBody,
  routeRequestJson,
  unsupportedContentType,
} from './rpc-request.ts';
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
      if (rpc) {
        let target: ReturnType<typeof parseRpcBody>;
        try {
          target = parseRpcBody(body);
        } catch (error) {
          this.#sendError(send, 'gateway', toConnectError(error));
          return;
        }
        this.#forwardJson(target.service, target.method, target.requestJson, req, send, started, span, path);
        return;
      }
      if (route) {
        let requestJson: ReturnType<typeof routeRequestJson>;
        try {
          requestJson = routeRequestJson(body);
        } catch (error) {
          this.#sendError(send, route.service, toConnectError(error));
          return;
        }
        this.#forwardJson(route.service, route.method, requestJson, req, send, started, span, path);
        return;
      }
      this.#sendError(send, 'gateway', new ConnectError(`no route for POST ${path}`, Code.NotFound));
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

  #forwardJson(
    service: string,
    method: string,
    requestJson: string | Buffer,
    req: IncomingMessage,
    send: Send,
    started: number,
    span: CallSpan | undefined,
    route: string,
  ): void {
    if (span !== undefined) {
      const dot = method.indexOf('.');
      span.setAttribute('rpc.service', method.slice(0, dot));
      span.setAttribute('rpc.method', method.slice(dot + 1));
      span.setAttribute('berth.service', service);
    }
    const instances = this.cache.instances(service);
    if (instances.length === 0) {
      this.#sendError(send, service, this.#known.missingService(service));
      return;
    }
    // Unknown methods are caught here when the registry lists endpoints (local),
    // else by the service itself (Kubernetes discovery knows addresses only). Any
    // instance will do: during a rolling upgrade only the new ones list a new method.
    const served = instances.some(
      (instance) =>
        instance.endpoints === undefined ||
        instance.endpoints.length === 0 ||
        instance.endpoints.includes(method),
    );
    if (!served) {
      this.#sendError(
        send,
        service,
        new ConnectError(`service "${service}" has no method "${method}"`, Code.NotFound),
      );
      return;
    }
    routed(span, req, route);
    this.#caller
      .call({
        service,
        path: `/${method.replace('.', '/')}`,
        contentType: contentTypeJson,
        body: requestJson,
        headers: forwardableHeaders(req.headers),
        timeoutMs: this.#timeoutMs,
        idempotent: instances.some((instance) => instance.idempotentEndpoints?.includes(method)),
        span,
      })
      .then(
        (response) => {
          if (response.status === 200) {
            send(
              200,
              { 'content-type': contentTypeJson, 'content-length': response.body.length },
              response.body,
            );
            this.metrics.observeRpc(method, 'ok', (performance.now() - started) / 1000, service);
            return;
          }
          const error = decodeError(response.status, response.body);
          // A 4xx without a code the gateway knows (a plain-text 415 or 422) stays the
          // client's error: the code falls back to unknown, whose own status is 500.
          const clientError = error.code === Code.Unknown && response.status >= 400 && response.status < 500;
          this.#sendError(send, service, error, clientError ? response.status : undefined);
          // Unknown methods are not counted: their names come from clients and would grow the series without bound.
          if (error.code !== Code.Unimplemented) {
            this.metrics.observeRpc(
              method,
              codeName(error.code),
              (performance.now() - started) / 1000,
              service,
            );
          }
        },
        (error: unknown) => {
          const connectError = toConnectError(error);
          this.#sendError(send, service, connectError);
          this.metrics.observeRpc(
            method,
            codeName(connectError.code),
            (performance.now() - started) / 1000,
            service,
          );
        },
      );
  }

  #sendError(send: Send, id: string, error: ConnectError, status?: number): void {
    sendError(send, id, error, this.logger, status);
  }
}
