import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, fromBinary } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { HelloRequestSchema, HelloResponseSchema } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { Code, ConnectError } from '../errors/berth-error.ts';
import {
  codecOf,
  decodeError,
  decodeMessage,
  encodeError,
  encodeMessage,
  parseTimeoutMs,
} from './connect-unary.ts';

test('codecOf accepts the Connect unary content types and nothing else', () => {
  assert.equal(codecOf('application/json'), 'json');
  assert.equal(codecOf('application/json; charset=utf-8'), 'json');
  assert.equal(codecOf('application/proto'), 'proto');
  for (const other of [
    undefined,
    '',
    'application/jsonx',
    'application/grpc',
    'application/grpc-web+proto',
  ]) {
    assert.equal(codecOf(other), undefined, String(other));
  }
});

test('a message round-trips through both codecs', () => {
  const message = create(HelloRequestSchema, { name: 'Ada', delayMs: 25 });
  for (const codec of ['json', 'proto'] as const) {
    const encoded = encodeMessage(HelloRequestSchema, codec, message);
    const decoded = decodeMessage(HelloRequestSchema, codec, Buffer.from(encoded));
    assert.equal(decoded.name, 'Ada', codec);
    assert.equal(decoded.delayMs, 25, codec);
  }
});

test('JSON responses use proto field names; requests accept both spellings', () => {
  assert.equal(
    encodeMessage(HelloResponseSchema, 'json', { greeting: 'hi', instanceId: 'g-1' }),
    '{"greeting":"hi","instance_id":"g-1"}',
  );
  for (const body of ['{"delay_ms":7}', '{"delayMs":7}']) {
    assert.equal(decodeMessage(HelloRequestSchema, 'json', Buffer.from(body)).delayMs, 7, body);
  }
  assert.equal(decodeMessage(HelloRequestSchema, 'json', Buffer.alloc(0)).name, '', 'empty body is {}');
});

test('undecodable requests are InvalidArgument naming the problem', () => {
  const cases: Array<[Parameters<typeof decodeMessage>[1], string, RegExp]> = [
    ['json', '{"name":', /^request body is not valid JSON: /],
    ['json', '{"name": 5}', /^invalid greeter\.v1\.HelloRequest: .*name/],
    ['json', '{"delay_ms": "soon"}', /^invalid greeter\.v1\.HelloRequest: .*delay_ms/],
    ['proto', '\u00ff\u00ff\u00ff', /^cannot decode greeter\.v1\.HelloRequest: /],
  ];
  for (const [codec, body, message] of cases) {
    assert.throws(
      () => decodeMessage(HelloRequestSchema, codec, Buffer.from(body, 'latin1')),
      (error: unknown) =>
        error instanceof ConnectError &&
        error.code === Code.InvalidArgument &&
        message.test(error.rawMessage),
      body,
    );
  }
});

test('errors encode as Connect JSON and decode back to the same code and message', () => {
  const encoded = encodeError(new ConnectError('no vessel', Code.NotFound));
  assert.deepEqual(encoded, { status: 404, body: '{"code":"not_found","message":"no vessel"}' });
  const decoded = decodeError(encoded.status, encoded.body);
  assert.equal(decoded.code, Code.NotFound);
  assert.equal(decoded.rawMessage, 'no vessel');
  // A code it does not know, or none, is the HTTP status's code (as the Connect protocol says), the message kept.
  assert.equal(decodeError(503, Buffer.from('{"code":"made_up","message":"busy"}')).code, Code.Unavailable);
  assert.equal(decodeError(401, Buffer.from('{"message":"who are you"}')).rawMessage, 'who are you');
});

test('error details survive encoding and decoding', () => {
  const failed = new ConnectError('bad name', Code.InvalidArgument, undefined, [
    { desc: HelloRequestSchema, value: { name: 'x'.repeat(3) } },
  ]);
  const decoded = decodeError(400, encodeError(failed).body);
  assert.equal(decoded.details.length, 1);
  const [detail] = decoded.details;
  assert.ok(detail && 'type' in detail);
  assert.equal(detail.type, HelloRequestSchema.typeName);
  assert.deepEqual(fromBinary(HelloRequestSchema, detail.value).name, 'xxx');
});

test('an error body that is not Connect JSON falls back to the HTTP status', () => {
  for (const [status, code] of [
    [400, Code.InvalidArgument],
    [401, Code.Unauthenticated],
    [404, Code.Unimplemented],
    [413, Code.ResourceExhausted],
    [502, Code.Unavailable],
    [504, Code.DeadlineExceeded],
    [418, Code.Unknown],
  ] as const) {
    const error = decodeError(status, '<html>proxy error</html>');
    assert.equal(error.code, code, String(status));
    assert.equal(error.rawMessage, `HTTP ${status}`);
  }
});

test('parseTimeoutMs reads connect-timeout-ms and rejects malformed values', () => {
  assert.equal(parseTimeoutMs('1500'), 1500);
  assert.equal(parseTimeoutMs('0'), 0);
  for (const bad of [undefined, '', '-1', '1.5', 'soon', '12345678901', '1e3', ' 15', '0x10', ['5']]) {
    assert.equal(parseTimeoutMs(bad), undefined, String(bad));
  }
});

test('an error whose details cannot be encoded still answers with its code and message', () => {
  const failed = new ConnectError('no vessel', Code.NotFound, undefined, [
    { desc: DurationSchema, value: { seconds: 'soon' as unknown as bigint } },
  ]);
  const encoded = encodeError(failed);
  assert.equal(encoded.status, 404);
  const body = JSON.parse(encoded.body) as { code: string; message: string };
  assert.equal(body.code, 'not_found');
  assert.match(body.message, /^no vessel \(its details could not be encoded: /);
});
