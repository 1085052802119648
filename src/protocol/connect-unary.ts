/**
 * The Connect protocol's unary calls over HTTP/1.1, encoded and decoded without
 * the stock adapters. Measured on this machine, connect-node's server path cost
 * ~6x a bare node:http handler, mostly in its universal request/response layers;
 * unary Connect is simple enough (POST, body = message, status + JSON error) to
 * serve directly. Everything else (gRPC, gRPC-Web, streaming, GET) still goes
 * through connect-node, so wire compatibility comes from the reference code.
 * Spec: https://connectrpc.com/docs/protocol#unary-request
 */
import {
  create,
  type DescMessage,
  fromBinary,
  fromJson,
  isMessage,
  type JsonValue,
  type MessageShape,
  type Registry,
  toBinary,
  toJson,
} from '@bufbuild/protobuf';
import {
  codeFromHttpStatus,
  codeToHttpStatus,
  codeToString,
  errorFromJson,
  errorToJson,
  parseContentType,
} from '@connectrpc/connect/protocol-connect';
import { Code, ConnectError } from '../errors/berth-error.ts';

export type UnaryCodec = 'json' | 'proto';

export const contentTypeJson = 'application/json';
export const contentTypeProto = 'application/proto';

/** `application/json`, `application/json; charset=utf-8` → json; `application/proto` → proto. */
export function codecOf(contentType: string | undefined): UnaryCodec | undefined {
  if (!contentType) return undefined;
  if (contentType.startsWith(contentTypeJson)) {
    const rest = contentType.slice(contentTypeJson.length);
    return rest === '' || rest.startsWith(';') ? 'json' : undefined;
  }
  if (contentType.startsWith(contentTypeProto)) {
    const rest = contentType.slice(contentTypeProto.length);
    return rest === '' || rest.startsWith(';') ? 'proto' : undefined;
  }
  return undefined;
}

/** No `content-encoding`, or `identity`: the body is the message as it is. */
export function isIdentity(contentEncoding: string | string[] | undefined): boolean {
  return contentEncoding === undefined || contentEncoding === '' || contentEncoding === 'identity';
}

/** `registry`: the types `google.protobuf.Any` fields may name in JSON (type-registry.ts). */
export function decodeMessage<Desc extends DescMessage>(
  schema: Desc,
  codec: UnaryCodec,
  body: Buffer,
  registry?: Registry,
) {
  if (codec === 'proto') {
    try {
      return fromBinary(schema, body);
    } catch (error) {
      throw new ConnectError(
        `cannot decode ${schema.typeName}: ${(error as Error).message}`,
        Code.InvalidArgument,
      );
    }
  }
  let json: unknown;
  try {
    json = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new ConnectError(
      `request body is not valid JSON: ${(error as Error).message}`,
      Code.InvalidArgument,
    );
  }
  try {
    return fromJson(schema, json as never, { registry });
  } catch (error) {
    throw new ConnectError(`invalid ${schema.typeName}: ${(error as Error).message}`, Code.InvalidArgument);
  }
}

/**
 * Responses use proto field names (snake_case), as micro's clients expect; every
 * proto3 JSON parser accepts them as well as lowerCamelCase.
 */
export function encodeMessage<Desc extends DescMessage>(
  schema: Desc,
  codec: UnaryCodec,
  message: unknown,
  registry?: Registry,
): Buffer | string {
  try {
    const full = isMessage(message, schema) ? message : create(schema, message as never);
    if (codec === 'proto') {
      const bytes = toBinary(schema, full);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return JSON.stringify(toJson(schema, full, { useProtoFieldName: true, registry }));
  } catch (error) {
    // Said, not hidden as "internal error": the usual cause is an Any naming a type
    // the service's type registry lacks (ServiceOptions.typeRegistry).
    throw new ConnectError(
      `cannot encode the ${schema.typeName} answer as ${codec === 'json' ? 'JSON' : 'binary proto'}: ${(error as Error).message}`,
      Code.Internal,
    );
  }
}

export interface EncodedError {
  readonly status: number;
  readonly body: string;
}

/**
 * A Connect unary error: HTTP status from the code, and `{"code", "message",
 * "details"}` JSON (details as base64 proto, with a `debug` JSON form that
 * `registry` lets name Any types).
 */
export function encodeError(error: ConnectError, registry?: Registry): EncodedError {
  let body: string;
  try {
    body = JSON.stringify(errorToJson(error, { registry }));
  } catch (failure) {
    // A detail that cannot be serialized must not turn an error answer into a crash:
    // the code and message still go out, and the reason replaces the details.
    body = JSON.stringify({
      code: codeToString(error.code),
      message: `${error.rawMessage} (its details could not be encoded: ${(failure as Error).message})`,
    });
  }
  return { status: codeToHttpStatus(error.code), body };
}

/**
 * Parses a Connect error body, details included. A body without a code it knows
 * (missing, null, unrecognised) takes the code the HTTP status stands for; a body
 * that is not a Connect error at all gives that code and `HTTP <status>`.
 */
export function decodeError(status: number, body: Buffer | string): ConnectError {
  const fallback = new ConnectError(`HTTP ${status}`, codeFromStatus(status));
  try {
    const parsed: unknown = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
    const { code, message } = (parsed ?? {}) as { code?: unknown; message?: unknown };
    if (typeof code !== 'string' && typeof message !== 'string') return fallback;
    return errorFromJson(parsed as JsonValue, undefined, fallback);
  } catch {
    return fallback; // not JSON, or not a Connect error
  }
}

function codeFromStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.Unimplemented;
    case 408:
    case 504:
      return Code.DeadlineExceeded;
    case 409:
      return Code.AlreadyExists;
    case 412:
      return Code.FailedPrecondition;
    case 413:
      return Code.ResourceExhausted;
    case 429:
    case 502:
    case 503:
      return Code.Unavailable;
    default:
      return Code.Unknown;
  }
}

/** `connect-timeout-ms` as a number of ms, or undefined when absent or malformed. */
export function parseTimeoutMs(value: string | string[] | undefined): number | undefined {
  // The spec allows 1 to 10 ASCII digits; Number() alone would also take "1e3", " 5", "0x10".
  return typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

/**
 * A Connect unary answer as a client must read it (the protocol's rules, as
 * connect-es's validateResponse applies them): a 200 in the codec asked for,
 * uncompressed, is the message; an error status with a JSON body is that
 * error; any other status is the code it stands for; a 200 in another content
 * type or encoding is an error, never a message decoded from the wrong bytes.
 */
export function readUnaryResponse<Desc extends DescMessage>(
  schema: Desc,
  codec: UnaryCodec,
  response: {
    readonly status: number;
    readonly headers: Readonly<Record<string, string | string[] | undefined>>;
    readonly body: Buffer;
  },
  registry?: Registry,
): MessageShape<Desc> {
  const contentType = response.headers['content-type'];
  const type = typeof contentType === 'string' ? parseContentType(contentType) : undefined;
  if (response.status !== 200) {
    if (type && !type.binary) throw decodeError(response.status, response.body);
    throw new ConnectError(`HTTP ${response.status}`, codeFromHttpStatus(response.status));
  }
  if (type === undefined || type.stream || type.binary !== (codec === 'proto')) {
    throw new ConnectError(
      `unexpected content type ${String(contentType)} in the answer (asked for ${codec})`,
      type === undefined ? Code.Unknown : Code.Internal,
    );
  }
  const encoding = response.headers['content-encoding'];
  if (!isIdentity(encoding)) {
    throw new ConnectError(`unexpected content encoding ${String(encoding)} in the answer`, Code.Internal);
  }
  try {
    return codec === 'proto'
      ? fromBinary(schema, response.body)
      : fromJson(schema, JSON.parse(response.body.toString('utf8')) as JsonValue, {
          registry,
          ignoreUnknownFields: true,
        });
  } catch (error) {
    throw new ConnectError(
      `cannot decode the ${schema.typeName} answer: ${(error as Error).message}`,
      Code.Internal,
    );
  }
}
