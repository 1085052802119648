/**
 * connect-node's adapter serves what the lean path does not: gRPC, gRPC-Web,
 * Connect GET and streaming, compressed calls, and HTTP/2. It is loaded on first
 * use: most local services never see such a request, and loading it costs ~6 MB
 * and ~0.2 s of start-up. The request body waits, unread, in the meantime.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Registry } from '@bufbuild/protobuf';
import type { ConnectRouter, Interceptor } from '@connectrpc/connect';
import { type RequestContext, runInRequest } from '../context/request-context.ts';
import { ConnectError } from '../errors/berth-error.ts';
import { Health } from '../gen/grpc/health/v1/health_pb.js';
import type { HealthState } from '../health/health.ts';
import type { Logger } from '../log/logger.ts';
import { clientDeadline } from '../protocol/grpc-timeout.ts';
import { activeTracing } from '../telemetry/active.ts';
import { type Enter, StreamSpan } from './stream-span.ts';

type NodeHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

export interface ConnectAdapterOptions {
  /** Registers the service's proto services on connect-node's router. */
  readonly routes: (router: ConnectRouter) => void;
  /** Served as `grpc.health.v1.Health` besides the service's own. */
  readonly health: HealthState;
  /** The types Any fields may name in JSON (the same as the lean path's). */
  readonly typeRegistry: () => Registry;
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  readonly shutdownSignal: AbortSignal;
  /** A request id for a call that brought no `x-request-id`. */
  readonly newRequestId: () => string;
}

export class ConnectAdapter {
  readonly #options: ConnectAdapterOptions;
  #handler: Promise<NodeHandler> | undefined;

  constructor(options: ConnectAdapterOptions) {
    this.#options = options;
  }

  serve(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
    const options = this.#options;
    this.#handler ??= import('@connectrpc/connect-node').then(
      ({ connectNodeAdapter }) =>
        connectNodeAdapter({
          routes: (router) => {
            options.routes(router);
            router.service(Health, options.health.grpcService());
          },
          interceptors: [contextInterceptor(options.newRequestId)],
          readMaxBytes: options.bodyLimitBytes,
          // The same JSON as the lean path: proto field names (snake_case).
          jsonOptions: { useProtoFieldName: true, registry: options.typeRegistry() },
          shutdownSignal: options.shutdownSignal,
        }) as NodeHandler,
    );
    this.#handler.then(
      (handle) => handle(req, res),
      (error: unknown) => {
        options.logger.error({ err: error }, 'cannot load the Connect adapter');
        (res as ServerResponse).writeHead(500);
        res.end();
      },
    );
  }
}

/**
 * Carries deadline, request id and metadata into handlers served by connect-node,
 * and when tracing runs each in a server span: a unary call's ends when its
 * handler returns, a streamed call's when its response stream does (stream-span.ts).
 */
function contextInterceptor(newRequestId: () => string): Interceptor {
  return (next) => (request) => {
    const timeoutMs = clientDeadline((name) => request.header.get(name))?.timeoutMs;
    const headers: Record<string, string> = {};
    request.header.forEach((value, key) => {
      headers[key] = value;
    });
    const context: RequestContext = {
      deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
      requestId: headers['x-request-id'] ?? newRequestId(),
      headers,
    };
    const tracing = activeTracing;
    if (tracing === undefined) return runInRequest(context, () => next(request));
    const system = headers['content-type']?.startsWith('application/grpc') ? 'grpc' : 'connect_rpc';
    const span = tracing.server(
      `${request.service.typeName}/${request.method.name}`,
      headers,
      { 'rpc.system': system, 'rpc.service': request.service.typeName, 'rpc.method': request.method.name },
      system,
    );
    const enter: Enter = (fn) => runInRequest(context, () => span.run(fn));
    if (request.stream) {
      const stream = new StreamSpan(span, request.signal);
      return enter(() => next(stream.receiving(request))).then(
        (response) => (response.stream ? stream.sending(response, enter) : response),
        (error: unknown) => {
          stream.failed(error);
          throw error;
        },
      );
    }
    return enter(() => next(request)).then(
      (response) => {
        span.endRpc();
        return response;
      },
      (error: unknown) => {
        const connectError = ConnectError.from(error);
        span.endRpc(connectError.code, connectError.rawMessage);
        throw error;
      },
    );
  };
}
