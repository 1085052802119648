/**
 * The gateway: the one public entry point of a system (DESIGN.md §3).
 *
 * Request path (HTTP/1.1):
 *   OPTIONS *                         → CORS preflight
 *   GET /healthz | /readyz | /metrics → ops
 *   POST /rpc                         → parseRpcBody → #forwardJson
 *   POST /<pkg>.<Service>/<Method>    → #passThrough (Connect, gRPC-Web over HTTP/1.1)
 *   POST /<service>/<object>/<method> → parseRoutePath → #forwardJson
 *   GET anything else                 → static files (the web UI), when configured
 * HTTP/2 (gRPC)                       → relayHttp2 to an instance serving the proto service,
 *                                       picked by the caller's balancer and ejector (no retries:
 *                                       a stream's body is relayed as it comes, not kept)
 *
 * Calls go through a ServiceCaller (registry cache, balancing, ejection, safe
 * retries). Errors answer micro's JSON `{id, code, detail, status}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { performance } from 'node:perf_hooks';
import sirv from 'sirv';
import { ServiceCaller } from '../client/caller.ts';
import { Code, ConnectError, codeName, codeToGatewayStatus, toConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { contentTypeJson, decodeError } from '../protocol/connect-unary.ts';
import type { Registry, ServiceInstance } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import { createDualProtocolServer, type DualProtocolServer } from '../service/dual-protocol-server.ts';
import { forwardableHeaders } from '../service/request-context.ts';
import { type CorsOptions, corsHeaders, preflightHeaders } from './cors.ts';
import type { Http2Upstreams } from './grpc-proxy.ts';
import { parseProtoPath, parseRoutePath, parseRpcBody } from './rpc-request.ts';

export interface GatewayOptions {
  readonly registry: Registry;
  readonly logger?: Logger;
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  readonly cors?: CorsOptions;
  /** Largest request body; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Deadline of each call through the gateway; default 10 s. */
  readonly timeoutMs?: number;
  /** Folder served at `/` (the web UI); index.html answers unknown paths. */
  readonly staticDir?: string;
  /** Services the system declares: one of them with no instance is 503, any other name 404. */
  readonly knownServices?: readonly string[];
}

type Send = (status: number, headers: Record<string, string | number>, body: string | Buffer) => void;

export class Gateway {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly cache: RegistryCache;
  readonly #options: GatewayOptions;
  readonly #caller: ServiceCaller;
  /** HTTP/2 connections to instances, made by the first gRPC request (node:http2 loads only then). */
  #upstreams: Http2Upstreams | undefined;
  readonly #static: ReturnType<typeof sirv> | undefined;
  readonly #bodyLimit: number;
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
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#static = options.staticDir
      ? sirv(options.staticDir, { single: true, etag: true, gzip: true })
      : undefined;
  }

  get address(): { host: string; port: number } {
    if (!this.#address) throw new Error('gateway not started');
    return this.#address;
  }

  async start(): Promise<{ host: string; port: number }> {
    await this.cache.start();
    this.#server = createDualProtocolServer(
      (req, res) => this.#onHttp1(req, res),
      (req, res) => this.#onHttp2(req, res),
    );
    this.#address = await this.#server.listen(this.#options.port ?? 8080, this.#options.host ?? '127.0.0.1');
    this.logger.info({ address: `${this.#address.host}:${this.#address.port}` }, 'gateway listening');
    return this.#address;
  }

  async stop(graceMs = 5_000): Promise<void> {
    this.#server?.stopAccepting();
    await this.#server?.drain(graceMs);
    this.#upstreams?.close();
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
    this.#readBody(req, send, (body) => {
      if (path === '/rpc') {
        let target: ReturnType<typeof parseRpcBody>;
        try {
          target = parseRpcBody(body);
        } catch (error) {
          this.#sendError(send, 'gateway', toConnectError(error));
          return;
        }
        this.#forwardJson(target.service, target.method, target.requestJson, req, send, started);
        return;
      }
      const proto = parseProtoPath(path);
      if (proto) {
        this.#passThrough(proto.protoService, path, body, req, res, cors, started);
        return;
      }
      const route = parseRoutePath(path);
      if (route) {
        this.#forwardJson(route.service, route.method, body.length === 0 ? '{}' : body, req, send, started);
        return;
      }
      this.#sendError(send, 'gateway', new ConnectError(`no route for POST ${path}`, Code.NotFound));
    });
  }

  #onHttp2(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const proto = parseProtoPath(req.url);
    const instance = proto ? this.#caller.pick({ protoService: proto.protoService }) : undefined;
    if (!proto || !instance) {
      const detail = proto ? `no instance serves ${proto.protoService}` : `no route for ${req.url}`;
      res.writeHead(200, {
        'content-type': 'application/grpc',
        'grpc-status': proto ? '14' : '12',
        'grpc-message': encodeURIComponent(detail),
      });
      res.end();
      return;
    }
    void import('./grpc-proxy.ts').then(({ Http2Upstreams, relayHttp2 }) => {
      this.#upstreams ??= new Http2Upstreams();
      relayHttp2(this.#upstreams, instance.address, req, res, (outcome, error) => {
        this.#caller.report(instance, outcome);
        if (error === undefined || res.headersSent) return;
        res.writeHead(200, {
          'content-type': 'application/grpc',
          'grpc-status': '14',
          'grpc-message': encodeURIComponent(`${instance.address}: ${error.message}`),
        });
        res.end();
      });
    });
  }

  #serveGet(path: string, req: IncomingMessage, res: ServerResponse, send: Send): void {
    switch (path) {
      case '/healthz':
        send(200, { 'content-type': contentTypeJson }, '{"status":"ok","service":"gateway"}');
        return;
      case '/readyz': {
        const services = this.#options.knownServices?.map((name) => ({
          name,
          instances: this.cache.instances(name).length,
        }));
        send(200, { 'content-type': contentTypeJson }, JSON.stringify({ ready: true, services }));
        return;
      }
      case '/metrics':
        void this.metrics.render().then(
          (rendered) => send(200, { 'content-type': rendered.contentType }, rendered.body),
          (error: unknown) => send(500, { 'content-type': 'text/plain' }, String(error)),
        );
        return;
      case '/_berth/services':
        void this.#describeServices().then((described) =>
          send(200, { 'content-type': contentTypeJson }, JSON.stringify(described)),
        );
        return;
    }
    if (this.#static) {
      this.#static(req, res, () =>
        this.#sendError(send, 'gateway', new ConnectError(`${path} not found`, Code.NotFound)),
      );
      return;
    }
    this.#sendError(send, 'gateway', new ConnectError(`no route for GET ${path}`, Code.NotFound));
  }

  /**
   * Instances per service with address, version and readiness (each instance's
   * /readyz, asked with a short timeout), for the UI's system page.
   */
  async #describeServices(): Promise<{
    services: Array<{
      name: string;
      instances: Array<ServiceInstance & { ready: boolean; readiness: unknown }>;
    }>;
  }> {
    const byName = new Map<string, ServiceInstance[]>();
    for (const instance of this.cache.all()) {
      if (instance.name.startsWith('berth.')) continue;
      byName.set(instance.name, [...(byName.get(instance.name) ?? []), instance]);
    }
    for (const name of this.#options.knownServices ?? []) if (!byName.has(name)) byName.set(name, []);
    const probe = async (instance: ServiceInstance) => {
      try {
        const response = await fetch(`http://${instance.address}/readyz`, {
          signal: AbortSignal.timeout(1000),
        });
        return { ...instance, ready: response.ok, readiness: await response.json() };
      } catch (error) {
        return { ...instance, ready: false, readiness: { error: (error as Error).message } };
      }
    };
    const services = await Promise.all(
      [...byName]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(async ([name, instances]) => ({ name, instances: await Promise.all(instances.map(probe)) })),
    );
    return { services };
  }

  #readBody(req: IncomingMessage, send: Send, then: (body: Buffer) => void): void {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () =>
      this.#sendError(
        send,
        'gateway',
        new ConnectError(
          `request body exceeds the limit of ${this.#bodyLimit} bytes`,
          Code.ResourceExhausted,
        ),
        413,
      );
    if (declared > this.#bodyLimit) {
      tooLarge();
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > this.#bodyLimit) {
        failed = true;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) then(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    req.on('error', () => {
      failed = true;
    });
  }

  #unknownOrUnavailable(service: string): ConnectError {
    const known = this.#options.knownServices;
    const declared =
      known?.includes(service) || (known?.some((name) => service.endsWith(`.${name}`)) ?? false);
    return declared
      ? new ConnectError(`no instance of service "${service}" is available`, Code.Unavailable)
      : new ConnectError(`unknown service "${service}"`, Code.NotFound);
  }

  #forwardJson(
    service: string,
    method: string,
    requestJson: string | Buffer,
    req: IncomingMessage,
    send: Send,
    started: number,
  ): void {
    const instances = this.cache.instances(service);
    if (instances.length === 0) {
      this.#sendError(send, service, this.#unknownOrUnavailable(service));
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
    this.#caller
      .call({
        service,
        path: `/${method.replace('.', '/')}`,
        contentType: contentTypeJson,
        body: requestJson,
        headers: forwardableHeaders(req.headers),
        timeoutMs: this.#timeoutMs,
        idempotent: instances.some((instance) => instance.idempotentEndpoints?.includes(method)),
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
          this.#sendError(send, service, error);
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

  /** Connect or gRPC-Web over HTTP/1.1 to `/<pkg>.<Service>/<Method>`: body and answer relayed untouched. */
  #passThrough(
    protoService: string,
    path: string,
    body: Buffer,
    req: IncomingMessage,
    res: ServerResponse,
    cors: Record<string, string> | undefined,
    started: number,
  ): void {
    const headers = forwardableHeaders(req.headers);
    for (const name of [
      'content-type',
      'connect-protocol-version',
      'connect-timeout-ms',
      'x-grpc-web',
      'grpc-timeout',
      'accept',
      'content-encoding',
      'accept-encoding',
      'connect-content-encoding',
      'connect-accept-encoding',
      'grpc-encoding',
      'grpc-accept-encoding',
    ]) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const contentType = headers['content-type'] ?? contentTypeJson;
    this.#caller.call({ protoService, path, contentType, body, headers, timeoutMs: this.#timeoutMs }).then(
      (response) => {
        const out: Record<string, string | string[]> = { ...cors };
        for (const [name, value] of Object.entries(response.headers)) {
          if (
            value !== undefined &&
            name !== 'connection' &&
            name !== 'keep-alive' &&
            name !== 'transfer-encoding'
          )
            out[name] = value;
        }
        res.writeHead(response.status, out);
        res.end(response.body);
        // Labelled as /rpc calls are (target service, `Service.Method`), and only for
        // methods the instance lists, so client-chosen paths cannot grow the series.
        const method = path.slice(path.lastIndexOf('.', path.indexOf('/', 1)) + 1).replace('/', '.');
        if (response.instance.endpoints?.includes(method)) {
          const code =
            response.status === 200 ? 'ok' : codeName(decodeError(response.status, response.body).code);
          this.metrics.observeRpc(method, code, (performance.now() - started) / 1000, response.instance.name);
        }
      },
      (error: unknown) => {
        const connectError = toConnectError(error);
        if (contentType.startsWith('application/grpc-web')) {
          // gRPC-Web clients read the status from the headers of a 200, never from the HTTP status.
          res.writeHead(200, {
            'content-type': contentType,
            'grpc-status': String(connectError.code),
            'grpc-message': encodeURIComponent(connectError.rawMessage),
            ...cors,
          });
          res.end();
          return;
        }
        res.writeHead(codeToGatewayStatus(connectError.code), { 'content-type': contentTypeJson, ...cors });
        res.end(JSON.stringify({ code: codeName(connectError.code), message: connectError.rawMessage }));
      },
    );
  }

  #sendError(send: Send, id: string, error: ConnectError, status = codeToGatewayStatus(error.code)): void {
    if (error.code === Code.Internal) this.logger.error({ err: error.cause ?? error }, 'gateway error');
    const body = JSON.stringify({ id, code: status, detail: error.rawMessage, status: codeName(error.code) });
    send(status, { 'content-type': contentTypeJson, 'content-length': Buffer.byteLength(body) }, body);
  }
}
