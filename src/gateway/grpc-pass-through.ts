/**
 * HTTP/2 through the gateway (gRPC, and Connect or gRPC-Web over h2): the instance serving the proto service is
 * picked by the caller's balancer and ejector (no retries: a stream's body is
 * relayed as it comes, not kept), and the stream relayed by grpc-proxy.ts, which
 * the first call loads (with node:http2).
 */
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { ServiceCaller } from '../client/caller.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';
import { sendMissingService, sendProtocolError } from './error-answers.ts';
import type { Http2Upstreams } from './grpc-proxy.ts';
import type { KnownServices } from './known-services.ts';
import { routed, serverSpan } from './request-span.ts';
import { parseProtoPath } from './rpc-request.ts';

export interface GrpcPassThroughOptions {
  readonly caller: ServiceCaller;
  readonly known: KnownServices;
  /** Deadline of unary calls. */
  readonly timeoutMs: number;
  readonly bodyLimitBytes: number;
  /** GatewayOptions.trustTraceparent. */
  readonly trustTraceparent: boolean;
}

export class GrpcPassThrough {
  readonly #options: GrpcPassThroughOptions;
  /** HTTP/2 connections to instances, made by the first call. */
  #upstreams: Http2Upstreams | undefined;

  constructor(options: GrpcPassThroughOptions) {
    this.#options = options;
  }

  serve(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const query = req.url.indexOf('?');
    const path = query === -1 ? req.url : req.url.slice(0, query);
    // No CLIENT span of its own: the relayed stream carries this span's context.
    const span = serverSpan(req, res, path, this.#options.trustTraceparent);
    span?.setAttribute(
      'rpc.system',
      req.headers['content-type']?.startsWith('application/grpc') ? 'grpc' : 'connect_rpc',
    );
    if (span === undefined) this.#serve(req, res, path, span);
    else span.run(() => this.#serve(req, res, path, span));
  }

  #serve(req: Http2ServerRequest, res: Http2ServerResponse, path: string, span: CallSpan | undefined): void {
    const proto = parseProtoPath(path);
    const instance = proto ? this.#options.caller.pick({ protoService: proto.protoService }) : undefined;
    if (!proto || !instance) {
      const error = proto
        ? this.#options.known.missingProtoService(proto.protoService)
        : new ConnectError(`no route for ${req.url}`, Code.Unimplemented);
      // In the caller's protocol: gRPC, gRPC-Web and Connect all come over HTTP/2.
      sendMissingService(res, req.headers['content-type'], error);
      return;
    }
    routed(span, req, path);
    span?.setAttribute('rpc.service', proto.protoService);
    span?.setAttribute('rpc.method', proto.method);
    void import('./grpc-proxy.ts').then(({ Http2Upstreams, relayHttp2 }) => {
      this.#upstreams ??= new Http2Upstreams();
      // The gateway's deadline bounds unary calls (the instance lists them); streams only the client's.
      const method = `${proto.protoService.slice(proto.protoService.lastIndexOf('.') + 1)}.${proto.method}`;
      const unary = instance.endpoints?.includes(method) ?? true;
      const limits = {
        timeoutMs: unary ? this.#options.timeoutMs : undefined,
        bodyLimitBytes: this.#options.bodyLimitBytes,
      };
      relayHttp2(this.#upstreams, instance.address, req, res, limits, span, (outcome, error) => {
        this.#options.caller.report(instance, outcome);
        if (error === undefined || res.headersSent) return;
        sendProtocolError(
          res,
          req.headers['content-type'],
          new ConnectError(`${instance.address}: ${error.message}`, Code.Unavailable),
        );
      });
    });
  }

  close(): void {
    this.#upstreams?.close();
  }
}
