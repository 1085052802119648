import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { maxJsonDepth } from './json-depth.ts';
import {
  isJsonContentType,
  parseProtoPath,
  parseRoutePath,
  parseRpcBody,
  routeRequestJson,
} from './rpc-request.ts';

function rejects(body: string, message: string) {
  assert.throws(
    () => parseRpcBody(Buffer.from(body)),
    (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.InvalidArgument);
      assert.equal(error.rawMessage, message);
      return true;
    },
    body,
  );
}

test('parseRpcBody reads micro api rpc bodies', () => {
  assert.deepEqual(
    parseRpcBody(
      Buffer.from('{"service":"vessel","method":"VesselService.Create","request":{"max_weight":5}}'),
    ),
    { service: 'vessel', method: 'VesselService.Create', requestJson: '{"max_weight":5}' },
  );
  assert.equal(
    parseRpcBody(Buffer.from('{"service":"shippy.vessel","method":"VesselService.List"}')).requestJson,
    '{}',
  );
  assert.equal(parseRpcBody(Buffer.from('{"service":"v","method":"S.M","request":null}')).requestJson, '{}');
  // micro accepted the request as a JSON string holding an object too.
  assert.equal(
    parseRpcBody(Buffer.from('{"service":"v","method":"S.M","request":"{\\"a\\":1}"}')).requestJson,
    '{"a":1}',
  );
});

test('parseRpcBody names what is wrong with a bad body', () => {
  assert.throws(() => parseRpcBody(Buffer.alloc(0)), {
    rawMessage: 'missing request body: expected {"service", "method", "request"}',
  });
  rejects('{"service":', 'request body is not valid JSON: ' + jsonError('{"service":'));
  for (const body of ['[]', '"text"', '42', 'null']) {
    rejects(body, 'request body must be a JSON object {"service", "method", "request"}');
  }
  for (const body of ['{"method":"S.M"}', '{"service":"","method":"S.M"}', '{"service":7,"method":"S.M"}']) {
    rejects(body, '"service" must be a non-empty string');
  }
  for (const method of ['"Create"', '"S.M.X"', '"S."', '7', '"1S.M"']) {
    rejects(
      `{"service":"v","method":${method}}`,
      '"method" must look like "Service.Method", e.g. "VesselService.Create"',
    );
  }
  for (const request of ['"not json"', '"[1]"', '"3"']) {
    rejects(
      `{"service":"v","method":"S.M","request":${request}}`,
      '"request" must be a JSON object (or a string holding one)',
    );
  }
  for (const request of ['[1]', '3', 'true']) {
    rejects(`{"service":"v","method":"S.M","request":${request}}`, '"request" must be a JSON object');
  }
});

test('a request nested deeper than the limit is refused before anything parses or re-encodes it', () => {
  const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
  const envelope = (request: string) => `{"service":"v","method":"S.M","request":${request}}`;
  const message = `request nests deeper than ${maxJsonDepth} levels`;
  assert.equal(parseRpcBody(Buffer.from(envelope(nested(maxJsonDepth)))).requestJson, nested(maxJsonDepth));
  rejects(envelope(nested(maxJsonDepth + 1)), message);
  // Deep enough that JSON.stringify threw a RangeError (a 500) before.
  rejects(envelope(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), message);
  rejects(envelope(JSON.stringify(nested(maxJsonDepth + 1))), message);

  assert.equal(routeRequestJson(Buffer.alloc(0)), '{}');
  const shallow = Buffer.from(nested(maxJsonDepth));
  assert.equal(routeRequestJson(shallow), shallow);
  assert.throws(() => routeRequestJson(Buffer.from(nested(maxJsonDepth + 1))), {
    code: Code.InvalidArgument,
    rawMessage: message,
  });
});

test('isJsonContentType takes application/json with parameters and in any case, nothing else', () => {
  for (const type of [
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON;charset=UTF-8',
  ]) {
    assert.equal(isJsonContentType(type), true, type);
  }
  for (const type of [
    undefined,
    '',
    'text/plain',
    'text/plain; charset=utf-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonp',
    'application/json-seq',
    'application/proto',
  ]) {
    assert.equal(isJsonContentType(type), false, String(type));
  }
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('valid JSON');
}

test('parseRoutePath resolves paths as micro api does', () => {
  assert.deepEqual(parseRoutePath('/vessel/vesselService/findAvailable'), {
    service: 'vessel',
    method: 'VesselService.FindAvailable',
  });
  assert.deepEqual(parseRoutePath('/greeter/say/hello'), { service: 'greeter', method: 'Say.Hello' });
  assert.deepEqual(parseRoutePath('/shippy/vessel/vesselService/create'), {
    service: 'shippy.vessel',
    method: 'VesselService.Create',
  });
  assert.equal(parseRoutePath('/vessel/create'), undefined);
  assert.equal(parseRoutePath('/'), undefined);
  assert.equal(parseRoutePath('/vessel/a.b/c'), undefined);
  assert.equal(parseRoutePath('/vessel/%2e%2e/c'), undefined);
});

test('parseProtoPath recognises /<package>.<Service>/<Method>', () => {
  assert.deepEqual(parseProtoPath('/greeter.v1.Say/Hello'), {
    protoService: 'greeter.v1.Say',
    method: 'Hello',
  });
  assert.equal(parseProtoPath('/Say/Hello'), undefined, 'a proto service always has a package');
  assert.equal(parseProtoPath('/greeter.v1.Say/Hello/extra'), undefined);
  assert.equal(parseProtoPath('/rpc'), undefined);
});
