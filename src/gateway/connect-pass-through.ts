/**
 * Requests to `/<pkg>.<Service>/<Method>` over HTTP/1.1 (Connect unary and
 * streaming, Connect GET, gRPC-Web), relayed to an instance serving the proto
 * service with their bytes untouched, and answered in their own protocol when
 * the gateway itself must refuse them (error-answers.ts).
 *
 * Deadlines: the client's own (`connect-timeout-ms`, or `grpc-timeout` for
 * gRPC-Web) is passed on, capped by the gateway's timeout; a client that gave
 * none is bounded by the gateway's timeout without the instance being told one,
 * so what a handler sees as its deadline is always one the client chose.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { CallResponse, ServiceCaller } from '../client/caller.ts';
import { forwardableHeaders } from '../context/request-context.ts';
import { Code, ConnectError, codeName, toConnectError } from '../errors/berth-error.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { decodeError } from '../protocol/connect-unary.ts';
import { clientDeadline } from '../protocol/grpc-timeout.ts';
import type { RegistryCache } from '../registry/registry-cache.ts';
import { readBody } from '../service/read-body.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';
import { sendMissingService, sendProtocolError } from './error-answers.ts';
import type { KnownServices } from './known-services.ts';
import { routed } from './request-span.ts';

export interface ConnectPassThroughOptions {
  readonly caller: ServiceCaller;
  readonly cache: RegistryCache;
  readonly known: KnownServices;
  readonly metrics: Metrics;
  /** The longest a call may take through the gateway. */
  readonly timeoutMs: number;
  readonly bodyLimitBytes: number;
}

/** Request headers that describe the call's encoding, relayed besides the metadata. */
const protocolHeaders = [
  'content-type',
  'connect-protocol-version',
  'x-grpc-web',
  'accept',
  'content-encoding',
  'accept-encoding',
  'connect-content-encoding',
  'connect-accept-encoding',
  'grpc-encoding',
  'grpc-accept-encoding',
];

/** Response headers that belong to one connection, not to the answer. */
const connectionHeaders = new Set(['connection', 'keep-alive', 'transfer-encoding']);

export class ConnectPassThrough {
  readonly #options: ConnectPassThroughOptions;

  constructor(options: ConnectPassThroughOptions) {
    this.#options = options;
  }

  /**
   * `protoService` and `path` come from the URL; `url` keeps a GET's query (its
   * message); the relayed call is part of `span`, the request's, when tracing.
   */
  serve(
    protoService: string,
    path: string,
    url: string,
    req: IncomingMessage,
    res: ServerResponse,
    cors: Record<string, string> | undefined,
    span?: CallSpan,
  ): void {
    const started = performance.now();
    const contentType = req.headers['content-type'];
    if (req.method !== 'POST' && req.method !== 'GET') {
      // Connect's answer to a wrong verb is the HTTP status alone (the code is then `unknown`).
      res.setHeader('allow', 'GET, POST');
      sendProtocolError(
        res,
        contentType,
        new ConnectError(
          `method ${req.method} is not allowed: use POST (or GET for a Connect GET)`,
          Code.Unknown,
        ),
        cors,
        405,
      );
      return;
    }
    if (this.#options.cache.instancesServing(protoService).length === 0) {
      sendMissingService(res, contentType, this.#options.known.missingProtoService(protoService), cors);
      return;
    }
    routed(span, req, path);
    if (req.method === 'GET') {
      this.#relay(protoService, url, 'GET', Buffer.alloc(0), req, res, cors, started, span);
      return;
    }
    readBody(req, res, this.#options.bodyLimitBytes, {
      // In the span: the body's events come in the connection's context, not the request's.
      onBody: (body) => {
        const relay = () => this.#relay(protoService, path, 'POST', body, req, res, cors, started, span);
        if (span === undefined) relay();
        else span.run(relay);
      },
      onTooLarge: () =>
        sendProtocolError(
          res,
          contentType,
          new ConnectError(
            `request body exceeds the limit of ${this.#options.bodyLimitBytes} bytes`,
            Code.ResourceExhausted,
          ),
          cors,
        ),
    });
  }

  #relay(
    protoService: string,
    path: string,
    method: 'GET' | 'POST',
    body: Buffer,
    req: IncomingMessage,
    res: ServerResponse,
    cors: Record<string, string> | undefined,
    started: number,
    span: CallSpan | undefined,
  ): void {
    const headers = forwardableHeaders(req.headers);
    for (const name of protocolHeaders) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const contentType = headers['content-type'] ?? '';
    const clientTimeoutMs = clientDeadline((name) => req.headers[name])?.timeoutMs;
    const timeoutMs = Math.min(clientTimeoutMs ?? this.#options.timeoutMs, this.#options.timeoutMs);
    this.#options.caller
      .call({
        protoService,
        path,
        method,
        contentType,
        body,
        headers,
        timeoutMs,
        sendDeadline: clientTimeoutMs !== undefined,
        span,
      })
      .then(
        (response) => {
          const out: Record<string, string | string[]> = { ...cors };
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined && !connectionHeaders.has(name)) out[name] = value;
          }
          res.writeHead(response.status, out);
          res.end(response.body);
          this.#observe(path, response, started);
        },
        (error: unknown) => sendProtocolError(res, contentType, toConnectError(error), cors),
      );
  }

  /**
   * Labelled as /rpc calls are (target service, `Service.Method`), and only for
   * methods the instance lists, so client-chosen paths cannot grow the series.
   */
  #observe(path: string, response: CallResponse, started: number): void {
    const { status, headers, body, instance } = response;
    const bare = path.includes('?') ? path.slice(0, path.indexOf('?')) : path;
    const method = bare.slice(bare.lastIndexOf('.', bare.indexOf('/', 1)) + 1).replace('/', '.');
    if (!instance.endpoints?.includes(method)) return;
    // gRPC-Web says how a call ended in grpc-status, on a 200.
    const grpcStatus = Number(headers['grpc-status'] ?? 0);
    const code =
      status !== 200
        ? codeName(decodeError(status, body).code)
        : grpcStatus !== 0
          ? codeName(grpcStatus)
          : 'ok';
    this.#options.metrics.observeRpc(method, code, (performance.now() - started) / 1000, instance.name);
  }
}
