/**
 * JSON calls through the gateway, micro api's two forms (rpc-request.ts): the
 * body of `POST /rpc` or of a path route, once read, becomes a Connect unary
 * JSON call to an instance of the service (ServiceCaller: balancing, ejection,
 * safe retries), and its answer, or micro's JSON error, goes back to the client.
 * Which requests get here, and reading their bodies, is the router's
 * (gateway.ts).
 */
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ServiceCaller } from '../client/caller.ts';
import { forwardableHeaders } from '../context/request-context.ts';
import { Code, ConnectError, codeName, toConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { contentTypeJson, decodeError } from '../protocol/connect-unary.ts';
import type { RegistryCache } from '../registry/registry-cache.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';
import { type Send, sendError } from './error-answers.ts';
import type { KnownServices } from './known-services.ts';
import { routed } from './request-span.ts';
import { parseRpcBody, routeRequestJson } from './rpc-request.ts';

export interface JsonCallForwarderOptions {
  readonly caller: ServiceCaller;
  readonly cache: RegistryCache;
  readonly known: KnownServices;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The longest a call may take through the gateway. */
  readonly timeoutMs: number;
}

/** The request a JSON call came in, and how to answer it. */
export interface JsonExchange {
  readonly req: IncomingMessage;
  readonly send: Send;
  /** performance.now() when the request came in: the call's duration counts from there. */
  readonly started: number;
  /** The request's span, when tracing. */
  readonly span: CallSpan | undefined;
  /** `/rpc` or the route's path: the span's route. */
  readonly path: string;
}

export class JsonCallForwarder {
  readonly #options: JsonCallForwarderOptions;

  constructor(options: JsonCallForwarderOptions) {
    this.#options = options;
  }

  /** `POST /rpc`: the body names the service and method and carries the request. */
  forwardRpc(body: Buffer, exchange: JsonExchange): void {
    let target: ReturnType<typeof parseRpcBody>;
    try {
      target = parseRpcBody(body);
    } catch (error) {
      this.#sendError(exchange.send, 'gateway', toConnectError(error));
      return;
    }
    this.#forward(target.service, target.method, target.requestJson, exchange);
  }

  /** A path route: the path names the service and method (parseRoutePath), the body is the request. */
  forwardRoute(route: { service: string; method: string }, body: Buffer, exchange: JsonExchange): void {
    let requestJson: ReturnType<typeof routeRequestJson>;
    try {
      requestJson = routeRequestJson(body);
    } catch (error) {
      this.#sendError(exchange.send, route.service, toConnectError(error));
      return;
    }
    this.#forward(route.service, route.method, requestJson, exchange);
  }

  #forward(service: string, method: string, requestJson: string | Buffer, exchange: JsonExchange): void {
    const { req, send, started, span } = exchange;
    const { cache, caller, known, metrics, timeoutMs } = this.#options;
    if (span !== undefined) {
      const dot = method.indexOf('.');
      span.setAttribute('rpc.service', method.slice(0, dot));
      span.setAttribute('rpc.method', method.slice(dot + 1));
      span.setAttribute('berth.service', service);
    }
    const instances = cache.instances(service);
    if (instances.length === 0) {
      this.#sendError(send, service, known.missingService(service));
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
    routed(span, req, exchange.path);
    caller
      .call({
        service,
        path: `/${method.replace('.', '/')}`,
        contentType: contentTypeJson,
        body: requestJson,
        headers: forwardableHeaders(req.headers),
        timeoutMs,
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
            metrics.observeRpc(method, 'ok', (performance.now() - started) / 1000, service);
            return;
          }
          const error = decodeError(response.status, response.body);
          // A 4xx without a code the gateway knows (a plain-text 415 or 422) stays the
          // client's error: the code falls back to unknown, whose own status is 500.
          const clientError = error.code === Code.Unknown && response.status >= 400 && response.status < 500;
          this.#sendError(send, service, error, clientError ? response.status : undefined);
          // Unknown methods are not counted: their names come from clients and would grow the series without bound.
          if (error.code !== Code.Unimplemented) {
            metrics.observeRpc(method, codeName(error.code), (performance.now() - started) / 1000, service);
          }
        },
        (error: unknown) => {
          const connectError = toConnectError(error);
          this.#sendError(send, service, connectError);
          metrics.observeRpc(
            method,
            codeName(connectError.code),
            (performance.now() - started) / 1000,
            service,
          );
        },
      );
  }

  #sendError(send: Send, id: string, error: ConnectError, status?: number): void {
    sendError(send, id, error, this.#options.logger, status);
  }
}
