/**
 * The dashboard's OTLP/gRPC receiver: `TraceService/Export`, `LogsService/Export` and `MetricsService/Export`
 * on the dashboard's own port, over h2c (dual-protocol-server.ts tells HTTP/2 from
 * HTTP/1.1 by its preface), which Aspire's dashboard takes by default and SDKs send
 * with OTEL_EXPORTER_OTLP_PROTOCOL=grpc. connect-node speaks the protocol (framing,
 * `grpc-encoding: gzip`, the message limit, status trailers); each message is read
 * into the same records as an OTLP/HTTP protobuf body (otlp-proto.ts, otlp-metric-points.ts) and kept in the
 * same sinks. The ingest token comes as the `authorization` metadata, as
 * OTEL_EXPORTER_OTLP_HEADERS sends it. No Host or Origin check, unlike the pages: a
 * browser does not speak h2c, so no page can reach these.
 */
import type { Http2ServerResponse } from 'node:http2';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import type { UniversalHandler, UniversalHandlerFn } from '@connectrpc/connect/protocol';
import { LogsService } from '../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { MetricsService } from '../gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { TraceService } from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { Http2Handler } from '../service/dual-protocol-server.ts';
import { isBearer } from './access-token.ts';
import { OtlpInputError } from './otlp-json.ts';
import { pointsOfExport } from './otlp-metric-points.ts';
import { logEntriesOfExport, spansOfExport } from './otlp-proto.ts';
import type { OtlpSinks } from './otlp-receiver.ts';

export interface OtlpGrpcOptions {
  readonly sinks: OtlpSinks;
  readonly ingestToken: string;
  /** Largest message, as sent and once inflated (connect-node's readMaxBytes). */
  readonly limitBytes: number;
}

/**
 * The dashboard's HTTP/2 requests: the three Export methods, anything else a 404.
 * connect-node is loaded by the first one (~6 MB and ~0.2 s, connect-adapter.ts):
 * most runs never get an OTLP/gRPC export.
 */
export function otlpGrpcHandler(options: OtlpGrpcOptions): Http2Handler {
  let handler: Promise<Http2Handler> | undefined;
  return (req, res) => {
    handler ??= import('@connectrpc/connect-node').then(({ connectNodeAdapter }) =>
      connectNodeAdapter({
        routes: (router) => otlpRoutes(router, options),
        grpc: true,
        grpcWeb: false,
        connect: false,
        readMaxBytes: options.limitBytes,
      }),
    );
    handler.then(
      (handle) => handle(req, res),
      (error: unknown) => refuse(res, error),
    );
  };
}

function otlpRoutes(router: ConnectRouter, { sinks, ingestToken }: OtlpGrpcOptions): void {
  const kept = (context: HandlerContext, keep: () => void) => {
    if (!isBearer(context.requestHeader.get('authorization') ?? undefined, ingestToken)) {
      throw new ConnectError(
        'missing or wrong ingest token in the "authorization" metadata: set ' +
          'OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer <ingest token> (berth run gives the token to its ' +
          "children's OTEL_EXPORTER_OTLP_TRACES_HEADERS)",
        Code.Unauthenticated,
      );
    }
    try {
      keep();
    } catch (error) {
      // What is wrong and where: `resourceSpans[0].scopeSpans[0].spans[2].traceId: expected 16 bytes, got 3`.
      if (error instanceof OtlpInputError) throw new ConnectError(error.message, Code.InvalidArgument);
      throw error;
    }
    return {};
  };
  router.service(TraceService, {
    export: (request, context) => kept(context, () => sinks.spans.add(spansOfExport(request))),
  });
  router.service(LogsService, {
    export: (request, context) => kept(context, () => sinks.logs.addEntries(logEntriesOfExport(request))),
  });
  router.service(MetricsService, {
    export: (request, context) => kept(context, () => sinks.otlpMetrics.add(pointsOfExport(request))),
  });
  router.handlers.splice(0, router.handlers.length, ...router.handlers.map(undecodableAsInvalidArgument));
}

/** How connect-node's message for a message that does not decode begins. */
const parseFailure = 'parse binary: ';

/**
 * connect-node answers a message that does not decode INTERNAL (`parse binary: …`),
 * before any handler or interceptor runs; the fault is the sender's, as for a
 * protobuf body at POST /v1/traces (a 400): INVALID_ARGUMENT, in the same words.
 */
function undecodableAsInvalidArgument(handler: UniversalHandler): UniversalHandler {
  const name = handler.method.input.typeName.split('.').pop();
  const rewrite = (trailer: Headers) => {
    const message = decodeURIComponent(trailer.get('grpc-message') ?? '');
    if (trailer.get('grpc-status') !== String(Code.Internal) || !message.startsWith(parseFailure)) return;
    trailer.set('grpc-status', String(Code.InvalidArgument));
    trailer.set(
      'grpc-message',
      encodeURIComponent(`the message is not a protobuf ${name}: ${message.slice(parseFailure.length)}`),
    );
  };
  const serve: UniversalHandlerFn = async (request) => {
    const response = await handler(request);
    const { body, trailer } = response;
    if (body === undefined || trailer === undefined) return response;
    // The status goes in the trailer, after the body: rewritten as the body ends.
    async function* rewritten() {
      yield* body!;
      rewrite(trailer!);
    }
    return { ...response, body: rewritten() };
  };
  return Object.assign(serve, handler);
}

function refuse(res: Http2ServerResponse, error: unknown): void {
  res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`cannot load the OTLP/gRPC receiver: ${(error as Error).message}\n`);
}
