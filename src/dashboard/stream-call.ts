/**
 * The API explorer's streaming calls: a server-, client- or bidi-streaming method
 * called through the gateway's Connect pass-through (`/<pkg>.<Service>/<Method>`)
 * with @connectrpc/connect, JSON codec, enveloped messages, `connect-timeout-ms`.
 *
 * The dashboard has no schema of a service, only what its `/descriptors` tells
 * (the method's name and kind), so the method is rebuilt with
 * `google.protobuf.Struct` as its input and output: the Connect protocol never
 * sends a message's type name, and Struct's JSON form is any JSON object, so the
 * request goes on the wire as the user wrote it and each answer comes back as the
 * service wrote it. The service checks the fields; its error ends the stream.
 *
 * Bounded: at most `maxMessages` answers and `maxBytes` of their JSON are passed on
 * (then the call is cancelled and the end says which limit cut it), and the call
 * has a deadline of `timeoutMs`, sent to the service as `connect-timeout-ms`.
 */
import {
  create,
  createFileRegistry,
  type DescMethodStreaming,
  fromJson,
  type JsonObject,
  toJson,
} from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_struct,
  type MethodDescriptorProto,
  StructSchema,
} from '@bufbuild/protobuf/wkt';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { ConnectError, codeName } from '../errors/berth-error.ts';

export type StreamingKind = 'server_streaming' | 'client_streaming' | 'bidi_streaming';

export interface StreamLimits {
  readonly maxMessages: number;
  /** Of the answers' JSON, counted as UTF-16 code units of `JSON.stringify`. */
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

export const defaultStreamLimits: StreamLimits = {
  maxMessages: 100,
  maxBytes: 256 * 1024,
  timeoutMs: 30_000,
};

export interface StreamCall {
  /** `countdown.v1.Countdown`. */
  readonly protoService: string;
  readonly method: string;
  readonly kind: StreamingKind;
  /** One for a server stream, the list to send for client and bidi streams. */
  readonly requests: readonly JsonObject[];
  readonly headers: Record<string, string>;
}

/** One line of a streaming call's answer: each message as it arrives, then how the call ended. */
export type StreamEvent = { readonly message: unknown } | { readonly end: StreamEnd };

export interface StreamEnd {
  readonly count: number;
  /** Which limit cancelled the call, when one did. */
  readonly truncated?: 'messages' | 'bytes';
  /** How the stream ended when not with `ok`: a Connect code name and message. */
  readonly error?: { readonly code: string; readonly message: string };
  readonly trailers: Record<string, string>;
}

const kindFields: Record<
  StreamingKind,
  Pick<MethodDescriptorProto, 'clientStreaming' | 'serverStreaming'>
> = {
  server_streaming: { clientStreaming: false, serverStreaming: true },
  client_streaming: { clientStreaming: true, serverStreaming: false },
  bidi_streaming: { clientStreaming: true, serverStreaming: true },
};

/** `protoService`'s method `name`, taking and giving Structs (see the top of this file). */
export function structMethod(
  protoService: string,
  name: string,
  kind: StreamingKind,
): DescMethodStreaming<typeof StructSchema, typeof StructSchema> {
  const dot = protoService.lastIndexOf('.');
  const file = create(FileDescriptorProtoSchema, {
    name: 'berth-dashboard-explorer.proto',
    syntax: 'proto3',
    package: dot < 0 ? '' : protoService.slice(0, dot),
    dependency: [file_google_protobuf_struct.proto.name],
    service: [
      {
        name: protoService.slice(dot + 1),
        method: [
          {
            name,
            inputType: '.google.protobuf.Struct',
            outputType: '.google.protobuf.Struct',
            ...kindFields[kind],
          },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, (dependency) =>
    dependency === file_google_protobuf_struct.proto.name ? file_google_protobuf_struct : undefined,
  );
  return registry.getService(protoService)!.methods[0] as DescMethodStreaming<
    typeof StructSchema,
    typeof StructSchema
  >;
}

async function* each<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

/**
 * Calls `call` through the gateway at `gateway` (`http://host:port`), yielding each
 * message that `limits` allow as it arrives, then the end. Over HTTP/2 (h2c, which the
 * gateway serves beside HTTP/1.1): its relay passes each message on as it comes, and
 * Connect has bidi streams only there. `signal` cancels the call (the caller went away).
 */
export async function* callStream(
  gateway: string,
  call: StreamCall,
  limits: StreamLimits,
  signal: AbortSignal,
): AsyncGenerator<StreamEvent> {
  // A connection of the call's own, closed with it: nothing lingers after the answer.
  const session = new Http2SessionManager(gateway);
  const transport = createConnectTransport({
    baseUrl: gateway,
    httpVersion: '2',
    sessionManager: session,
    useBinaryFormat: false,
    readMaxBytes: limits.maxBytes,
  });
  const method = structMethod(call.protoService, call.method, call.kind);
  // Cancels the call once a limit is reached: the service sees the client go away.
  const cut = new AbortController();
  let count = 0;
  let bytes = 0;
  let truncated: StreamEnd['truncated'];
  try {
    const response = await transport.stream(
      method,
      AbortSignal.any([cut.signal, signal]),
      limits.timeoutMs,
      call.headers,
      each(call.requests.map((request) => fromJson(StructSchema, request))),
    );
    for await (const message of response.message) {
      // Read on after the cut until the stream fails as cancelled: that clears connect's
      // deadline timer, which a `break` would leave running for the rest of `timeoutMs`.
      if (truncated) continue;
      const json = toJson(StructSchema, message);
      const size = JSON.stringify(json).length;
      if (count >= limits.maxMessages || bytes + size > limits.maxBytes) {
        truncated = count >= limits.maxMessages ? 'messages' : 'bytes';
        cut.abort();
        continue;
      }
      count++;
      bytes += size;
      yield { message: json };
    }
    yield { end: { count, ...(truncated ? { truncated } : {}), trailers: headersOf(response.trailer) } };
  } catch (error) {
    const failure = ConnectError.from(error);
    const end = { count, trailers: headersOf(failure.metadata) };
    // Cancelled by the cut: the limit is how it ended.
    if (truncated) yield { end: { ...end, truncated } };
    else yield { end: { ...end, error: { code: codeName(failure.code), message: failure.rawMessage } } };
  } finally {
    session.abort();
  }
}

function headersOf(headers: Headers): Record<string, string> {
  const entries: Record<string, string> = {};
  headers.forEach((value, name) => {
    entries[name] = value;
  });
  return entries;
}
