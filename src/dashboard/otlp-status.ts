/**
 * How the OTLP receiver refuses an export: OTLP/HTTP answers a failed request with
 * a google.rpc.Status in the request's own encoding (protobuf, or its JSON form),
 * which SDK exporters log as the reason. A request of neither encoding gets JSON.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Code } from '../errors/berth-error.ts';

/** The google.rpc.Code of an HTTP status the receiver answers. */
const codeOfStatus: Readonly<Record<number, Code>> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  405: Code.Unimplemented,
  413: Code.ResourceExhausted,
  415: Code.InvalidArgument,
  421: Code.InvalidArgument,
};

export interface StatusAnswer {
  readonly contentType: string;
  readonly body: Uint8Array | string;
}

/** `mediaType`: the request's, as http-io.ts's mediaTypeOf reads it. */
export function otlpStatusAnswer(mediaType: string, httpStatus: number, message: string): StatusAnswer {
  const code = codeOfStatus[httpStatus] ?? Code.Internal;
  if (mediaType === 'application/x-protobuf') {
    // google.rpc.Status: 1 code (int32), 2 message (string); no details.
    const body = new BinaryWriter()
      .tag(1, WireType.Varint)
      .int32(code)
      .tag(2, WireType.LengthDelimited)
      .string(message)
      .finish();
    return { contentType: 'application/x-protobuf', body };
  }
  return { contentType: 'application/json; charset=utf-8', body: JSON.stringify({ code, message }) };
}
