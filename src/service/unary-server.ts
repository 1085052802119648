/**
 * The lean Connect path: unary calls in JSON or binary proto, served without
 * connect-node (../protocol/connect-unary.ts says why), whether they came over
 * HTTP/1.1 (`serveHttp1`) or in a berth frame (frames-endpoint.ts calls `answer`).
 * It holds the service's method table and counts the calls in flight, so that
 * shutdown can wait for them and answer new ones `unavailable`.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { DescMessage, DescMethod, DescService, Registry } from '@bufbuild/protobuf';
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { unprocessedHeader } from '../client/caller.ts';
import { deadlines, type PendingDeadline } from '../context/deadlines.ts';
import { runInRequest } from '../context/request-context.ts';
import { Code, ConnectError, toConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import {
  contentTypeJson,
  contentTypeProto,
  decodeMessage,
  encodeError,
  encodeMessage,
  parseTimeoutMs,
  type UnaryCodec,
} from '../protocol/connect-unary.ts';
import { typeRegistryOf } from '../protocol/type-registry.ts';
import { activeTracing } from '../telemetry/active.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';
import { UnaryHandlerContext } from './handler-context.ts';
import { readBody } from './read-body.ts';

export interface UnaryRoute {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly input: DescMessage;
  readonly output: DescMessage;
  readonly impl: (request: unknown, context: HandlerContext) => unknown;
  /** `VesselService.Create`, the label used in metrics and logs. */
  readonly label: string;
  /** `shippy.vessel.v1.VesselService/Create`, the name of its server spans. */
  readonly spanName: string;
  /** Its server spans' attributes, made once. */
  readonly spanAttributes: Readonly<Record<string, string>>;
}

/** Sends a unary call's answer, whatever carried the call (HTTP/1.1 or a frame). */
export type UnaryReply = (
  status: number,
  contentType: string,
  body: string | Buffer,
  unprocessed: boolean,
  /** Response headers (and `trailer-` prefixed trailers) the handler set. */
  metadata?: Record<string, string>,
) => void;

export interface UnaryServerOptions {
  /** The service's name, for error messages. */
  readonly name: string;
  /** Prefix of the request ids made for calls that bring none. */
  readonly instanceId: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly bodyLimitBytes: number;
  /** Aborts when shutdown begins; handlers' `context.signal` follows it. */
  readonly shutdownSignal: AbortSignal;
  /** Types Any fields may carry in JSON besides those of the served files (ServiceOptions.typeRegistry). */
  readonly typeRegistry?: Registry;
}

/** `/<Service>/<Method>` without a package: only the lean path serves this form. */
export const shortPath = /^\/[A-Za-z_]\w*\/[A-Za-z_]\w*$/;

export class UnaryServer {
  readonly #options: UnaryServerOptions;
  readonly #routes = new Map<string, UnaryRoute>();
  readonly #services: DescService[] = [];
  #types: Registry | undefined;
  #inFlight = 0;
  #draining = false;
  #requestCounter = 0;

  constructor(options: UnaryServerOptions) {
    this.#options = options;
  }

  /** Adds the unary methods `impl` implements; the others are left to connect-node. */
  addService<S extends DescService>(schema: S, impl: Partial<ServiceImpl<S>>): void {
    this.#services.push(schema);
    this.#types = undefined;
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
        spanName: `${schema.typeName}/${method.name}`,
        spanAttributes: {
          'rpc.system': 'connect_rpc',
          'rpc.service': schema.typeName,
          'rpc.method': method.name,
        },
      };
      this.#routes.set(`/${schema.typeName}/${method.name}`, route);
      // The short form `/<Service>/<Method>` is what the gateway calls: it knows a
      // service by name and `VesselService.Create`, not the proto package.
      this.#routes.set(`/${schema.name}/${method.name}`, route);
    }
  }

  /** What JSON may name in an Any: the served files' messages, their imports', and ServiceOptions.typeRegistry's. */
  get typeRegistry(): Registry {
    this.#types ??= typeRegistryOf(this.#services, this.#options.typeRegistry);
    return this.#types;
  }

  route(path: string): UnaryRoute | undefined {
    return this.#routes.get(path);
  }

  /** Labels of every method served (`VesselService.Create`), and of those marked idempotent. */
  endpoints(): { all: string[]; idempotent: string[] } {
    const routes = [...this.#routes.values()];
    const labels = (of: UnaryRoute[]) => [...new Set(of.map((route) => route.label))];
    return {
      all: labels(routes),
      idempotent: labels(
        routes.filter(
          (route) => route.method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN,
        ),
      ),
    };
  }

  /** A request id for a call that brought no `x-request-id`. */
  nextRequestId(): string {
    return `${this.#options.instanceId}-${++this.#requestCounter}`;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** From now on new calls are answered `unavailable` (unprocessed: callers retry elsewhere). */
  startDraining(): void {
    this.#draining = true;
  }

  /**
   * Connect unary over HTTP/1.1: reads the body within the limit, then answers as
   * any unary call; past the limit, a 413 and the connection closes (read-body.ts).
   */
  serveHttp1(route: UnaryRoute, codec: UnaryCodec, req: IncomingMessage, res: ServerResponse): void {
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
    readBody(req, res, this.#options.bodyLimitBytes, {
      onBody: (body) => this.answer(route, codec, req.url ?? '', req.headers, body, reply),
      onTooLarge: (size) => this.replyTooLarge(route, reply, size),
    });
  }

  /**
   * One unary call, whatever carried it: decode, run the handler inside its request
   * context (deadline, request id, metadata) and, when tracing, its server span
   * (child of the call's `traceparent`), encode, and reply exactly once, with a
   * DeadlineExceeded error if the deadline passes first.
   */
  answer(
    route: UnaryRoute,
    codec: UnaryCodec,
    url: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
    reply: UnaryReply,
  ): void {
    if (this.#draining) {
      const message = JSON.stringify({
        code: 'unavailable',
        message: `${this.#options.name} is shutting down`,
      });
      reply(503, contentTypeJson, message, true);
      return;
    }
    const started = performance.now();
    this.#inFlight++;
    const timeoutMs = parseTimeoutMs(headers['connect-timeout-ms']);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const givenId = headers['x-request-id'];
    const requestId = typeof givenId === 'string' ? givenId : this.nextRequestId();
    let expiry: PendingDeadline | undefined;
    let context: UnaryHandlerContext | undefined;
    let finished = false;
    const span: CallSpan | undefined = activeTracing?.server(route.spanName, headers, route.spanAttributes);
    /** Replies once: with the answer, or (given `error`) with that error encoded. */
    const finish = (status: number, answer: string | Buffer, error?: ConnectError) => {
      if (finished) return;
      finished = true;
      this.#inFlight--;
      expiry?.cancel();
      const contentType = status === 200 ? contentTypeOf(codec) : contentTypeJson;
      reply(status, contentType, answer, false, responseMetadata(context, error));
      this.#options.metrics.observeRpc(
        route.label,
        error === undefined ? 'ok' : codeToString(error.code),
        (performance.now() - started) / 1000,
      );
      span?.endRpc(error?.code, error?.rawMessage);
    };
    const fail = (error: unknown) => {
      // A handler that gave up because its context's signal fired at the deadline
      // failed by the deadline, whatever it threw.
      const connectError =
        deadline !== undefined && Date.now() >= deadline && !(error instanceof ConnectError)
          ? new ConnectError('deadline exceeded', Code.DeadlineExceeded)
          : toConnectError(error);
      logFailure(this.#options.logger, requestId, route.label, error, connectError);
      const encoded = encodeError(connectError, this.typeRegistry);
      finish(encoded.status, encoded.body, connectError);
    };
    if (deadline !== undefined) {
      expiry = deadlines.add(deadline, () =>
        fail(new ConnectError('deadline exceeded', Code.DeadlineExceeded)),
      );
    }
    const handle = () => {
      try {
        const message = decodeMessage(route.input, codec, body, this.typeRegistry);
        context = new UnaryHandlerContext(
          route.service,
          route.method,
          url,
          headers,
          deadline,
          this.#options.shutdownSignal,
        );
        Promise.resolve(route.impl(message, context)).then((output) => {
          try {
            finish(200, encodeMessage(route.output, codec, output, this.typeRegistry));
          } catch (error) {
            fail(error);
          }
        }, fail);
      } catch (error) {
        fail(error);
      }
    };
    runInRequest({ deadline, requestId, headers }, span === undefined ? handle : () => span.run(handle));
  }

  replyTooLarge(route: UnaryRoute, reply: UnaryReply, size: number): void {
    const encoded = encodeError(tooLarge(this.#options.bodyLimitBytes, size));
    reply(encoded.status, contentTypeJson, encoded.body, false);
    this.#options.metrics.observeRpc(route.label, codeToString(Code.ResourceExhausted), 0);
  }

  /** The 404 body for a path no method has, Connect's `unimplemented`, as connect-node's router answers. */
  noSuchMethod(path: string): string {
    return encodeError(
      new ConnectError(
        `${this.#options.name} has no method ${path.slice(1).replace('/', '.')}`,
        Code.Unimplemented,
      ),
    ).body;
  }
}

/**
 * A failed call's log line. The server's own failures (internal, unknown) are
 * errors with the stack; a dependency that is down (unavailable: the database,
 * another service) is a warning naming it, without a stack, since every call
 * fails the same way until it is back; the caller's mistakes (invalid argument,
 * not found…) are only debug lines: nothing for an operator to fix.
 */
function logFailure(
  logger: Logger,
  requestId: string,
  method: string,
  error: unknown,
  connectError: ConnectError,
): void {
  if (connectError.code === Code.Internal || connectError.code === Code.Unknown) {
    logger.error({ err: error, method, requestId }, 'handler failed');
  } else if (connectError.code === Code.Unavailable) {
    logger.warn({ method, requestId, reason: connectError.rawMessage }, 'a dependency is unavailable');
  } else {
    logger.debug(
      { method, requestId, code: codeToString(connectError.code), reason: connectError.rawMessage },
      'call failed',
    );
  }
}

export function tooLarge(limit: number, size: number): ConnectError {
  return new ConnectError(
    `request body of ${size} bytes exceeds the limit of ${limit}`,
    Code.ResourceExhausted,
  );
}

/**
 * Headers and `trailer-` trailers the handler set, and for an error the metadata
 * it carries (`new ConnectError(message, code, metadata)`), as connect-node sends them.
 */
function responseMetadata(
  context: UnaryHandlerContext | undefined,
  error: ConnectError | undefined,
): Record<string, string> | undefined {
  const metadata = context?.responseMetadata();
  if (error === undefined) return metadata;
  let merged = metadata;
  error.metadata.forEach((value, name) => {
    merged ??= {};
    merged[name] = merged[name] === undefined ? value : `${merged[name]}, ${value}`;
  });
  return merged;
}

function contentTypeOf(codec: UnaryCodec): string {
  return codec === 'json' ? contentTypeJson : contentTypeProto;
}
