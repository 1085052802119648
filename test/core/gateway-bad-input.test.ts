/**
 * Whatever a client sends, the gateway answers micro's error JSON
 * `{"id", "code", "detail", "status"}` with the documented HTTP status
 * (DESIGN.md §3), never a stack trace, and keeps serving the next request.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { Code, ConnectError } from '../../src/errors/berth-error.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { startGreeter, tempRegistry } from '../support/processes.ts';

const after = fileCleanup();
const origin = 'http://app.test';
let gatewayUrl: string;

before(async () => {
  const { dir, registry } = await tempRegistry(after);
  await startGreeter(dir, after);
  const gateway = new Gateway({
    registry,
    port: 0,
    timeoutMs: 500,
    knownServices: ['greeter', 'vessel'],
    cors: { origins: [origin] },
  });
  const { port } = await gateway.start();
  gatewayUrl = `http://127.0.0.1:${port}`;
  after(() => gateway.stop(1_000));
});

interface ErrorBody {
  id: string;
  code: number;
  detail: string;
  status: string;
}

async function send(path: string, init: RequestInit & { duplex?: 'half' } = {}): Promise<Response> {
  return fetch(`${gatewayUrl}${path}`, {
    method: 'POST',
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
  });
}

async function expectError(
  response: Response,
  expected: { status: number; code: string; id: string; detail: RegExp },
): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, expected.status, text);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'id', 'status']);
  assert.deepEqual(
    { id: body.id, code: body.code, status: body.status },
    { id: expected.id, code: expected.status, status: expected.code },
  );
  assert.match(body.detail, expected.detail);
  assert.doesNotMatch(body.detail, /\n\s+at /, 'no stack trace');
}

/** The gateway still serves a good call after a bad one. */
async function assertStillServing(): Promise<void> {
  const response = await send('/rpc', {
    body: JSON.stringify({ service: 'greeter', method: 'Say.Hello', request: { name: 'ok' } }),
  });
  assert.equal(response.status, 200);
  assert.equal(((await response.json()) as { greeting: string }).greeting, 'Hello ok');
}

const hello = (request: unknown) => JSON.stringify({ service: 'greeter', method: 'Say.Hello', request });

const cases: Array<{
  name: string;
  path?: string;
  init: RequestInit & { duplex?: 'half' };
  expected: { status: number; code: string; id: string; detail: RegExp };
}> = [
  {
    name: 'malformed JSON',
    init: { body: '{"service": "greeter", ' },
    expected: {
      status: 400,
      code: 'invalid_argument',
      id: 'gateway',
      detail: /^request body is not valid JSON/,
    },
  },
  {
    name: 'malformed JSON on a path route',
    path: '/greeter/say/hello',
    init: { body: '{"name": ' },
    expected: { status: 400, code: 'invalid_argument', id: 'greeter', detail: /not valid JSON/ },
  },
  {
    name: 'a field of the wrong type',
    init: { body: hello({ name: 42 }) },
    expected: {
      status: 400,
      code: 'invalid_argument',
      id: 'greeter',
      detail: /greeter\.v1\.HelloRequest.*name/,
    },
  },
  {
    name: 'an unknown field',
    init: { body: hello({ nmae: 'typo' }) },
    expected: { status: 400, code: 'invalid_argument', id: 'greeter', detail: /nmae/ },
  },
  {
    name: 'an unknown service',
    init: { body: JSON.stringify({ service: 'nosuch', method: 'Say.Hello', request: {} }) },
    expected: { status: 404, code: 'not_found', id: 'nosuch', detail: /unknown service "nosuch"/ },
  },
  {
    name: 'a declared service with no instance',
    init: { body: JSON.stringify({ service: 'vessel', method: 'VesselService.List', request: {} }) },
    expected: { status: 503, code: 'unavailable', id: 'vessel', detail: /no instance of service "vessel"/ },
  },
  {
    name: 'an unknown method',
    init: { body: JSON.stringify({ service: 'greeter', method: 'Say.Goodbye', request: {} }) },
    expected: { status: 404, code: 'not_found', id: 'greeter', detail: /no method "Say\.Goodbye"/ },
  },
  {
    name: 'an unknown method on a path route',
    path: '/greeter/say/goodbye',
    init: { body: '{}' },
    expected: { status: 404, code: 'not_found', id: 'greeter', detail: /Say\.Goodbye/ },
  },
  {
    name: 'a missing body',
    init: {},
    expected: { status: 400, code: 'invalid_argument', id: 'gateway', detail: /^missing request body/ },
  },
  {
    name: 'a body that is not an object',
    init: { body: '[1, 2]' },
    expected: { status: 400, code: 'invalid_argument', id: 'gateway', detail: /must be a JSON object/ },
  },
  {
    name: 'a request that is not an object',
    init: { body: hello([1, 2]) },
    expected: {
      status: 400,
      code: 'invalid_argument',
      id: 'gateway',
      detail: /"request" must be a JSON object/,
    },
  },
  {
    name: 'a 5 MiB body',
    init: { body: hello({ name: 'x'.repeat(5 * 1024 * 1024) }) },
    expected: { status: 413, code: 'resource_exhausted', id: 'gateway', detail: /exceeds the limit/ },
  },
  {
    name: 'a 5 MiB body streamed without a length',
    init: {
      body: new ReadableStream({
        pull(controller) {
          // 5 chunks of 1 MiB, then end: the gateway must stop at its limit, not buffer it all.
          if ((this as { sent?: number }).sent === 5) controller.close();
          else {
            (this as { sent?: number }).sent = ((this as { sent?: number }).sent ?? 0) + 1;
            controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
          }
        },
      }),
      duplex: 'half',
    },
    expected: { status: 413, code: 'resource_exhausted', id: 'gateway', detail: /exceeds the limit/ },
  },
  {
    name: 'a call that outlives the gateway timeout',
    init: { body: hello({ name: 'slow', delay_ms: 5_000 }) },
    expected: { status: 504, code: 'deadline_exceeded', id: 'greeter', detail: /deadline/ },
  },
  {
    name: 'an unknown path',
    path: '/nowhere',
    init: { body: '{}' },
    expected: { status: 404, code: 'not_found', id: 'gateway', detail: /no route for POST \/nowhere/ },
  },
  {
    name: 'a method other than GET, POST and OPTIONS',
    init: { method: 'PUT', body: hello({}) },
    expected: { status: 405, code: 'unimplemented', id: 'gateway', detail: /method PUT is not allowed/ },
  },
];

for (const { name, path, init, expected } of cases) {
  test(`${name} → ${expected.status} ${expected.code}, then a good call succeeds`, async () => {
    await expectError(await send(path ?? '/rpc', init), expected);
    await assertStillServing();
  });
}

test('Connect and gRPC-Web clients through the gateway get errors in their own protocol', async () => {
  for (const transport of [
    createConnectTransport({ baseUrl: gatewayUrl, httpVersion: '1.1' }),
    createGrpcWebTransport({ baseUrl: gatewayUrl, httpVersion: '1.1' }),
  ]) {
    const client = createClient(Say, transport);
    await assert.rejects(
      client.hello({ name: 'slow', delayMs: 5_000 }),
      (error: unknown) => error instanceof ConnectError && error.code === Code.DeadlineExceeded,
    );
    assert.equal((await client.hello({ name: 'ok' })).greeting, 'Hello ok');
  }
});

test('GET of an unknown path is a 404 error JSON', async () => {
  await expectError(await fetch(`${gatewayUrl}/nowhere`), {
    status: 404,
    code: 'not_found',
    id: 'gateway',
    detail: /no route for GET \/nowhere/,
  });
});

test('a CORS preflight is answered, and answers carry the allowed origin', async () => {
  const preflight = await fetch(`${gatewayUrl}/rpc`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, authorization',
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
  assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /\bContent-Type\b/);
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /\bAuthorization\b/);

  const refused = await fetch(`${gatewayUrl}/rpc`, {
    method: 'OPTIONS',
    headers: { origin: 'http://evil.test', 'access-control-request-method': 'POST' },
  });
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);

  for (const body of [hello({ name: 'cors' }), '{"oops"']) {
    const response = await send('/rpc', { body, headers: { origin } });
    await response.body?.cancel();
    assert.equal(response.headers.get('access-control-allow-origin'), origin, `status ${response.status}`);
  }
});
