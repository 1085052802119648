/**
 * Reads the google.rpc.Status an OTLP/HTTP refusal carries, as an SDK exporter
 * would: protobuf for a protobuf request, JSON otherwise. Checks the encoding
 * matches the answer's Content-Type, so a test fails on an answer of the wrong one.
 */
import assert from 'node:assert/strict';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

export interface RpcStatus {
  readonly code: number;
  readonly message: string;
}

export async function statusOf(answer: Response): Promise<RpcStatus> {
  const type = answer.headers.get('content-type') ?? '';
  if (type === 'application/x-protobuf') {
    const reader = new BinaryReader(new Uint8Array(await answer.arrayBuffer()));
    let code = 0;
    let message = '';
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1 && wireType === WireType.Varint) code = reader.int32();
      else if (field === 2 && wireType === WireType.LengthDelimited) message = reader.string();
      else reader.skip(wireType);
    }
    return { code, message };
  }
  assert.match(type, /^application\/json/, `a Status in JSON or protobuf, got content-type "${type}"`);
  const status = (await answer.json()) as RpcStatus;
  assert.equal(typeof status.code, 'number', 'a google.rpc.Status has a numeric code');
  return status;
}

/** The Status's message, after checking its code. */
export async function refusalOf(answer: Response, code: number): Promise<string> {
  const status = await statusOf(answer);
  assert.equal(status.code, code, `google.rpc.Status code (message: ${status.message})`);
  return status.message;
}

/** The google.rpc.Code OTLP/HTTP's refusals carry for each HTTP status the receiver answers. */
const expectedCode: Readonly<Record<number, number>> = { 400: 3, 401: 16, 413: 8, 415: 3 };

/** The message of a refusal, after checking its Status code goes with its HTTP status. */
export function errorOf(answer: Response): Promise<string> {
  const code = expectedCode[answer.status];
  assert.ok(code !== undefined, `an OTLP refusal, got HTTP ${answer.status}`);
  return refusalOf(answer, code);
}
