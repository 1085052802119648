import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import type { Cleanup } from '../../test/support/cleanup.ts';
import { refusingAddress } from '../../test/support/instances.ts';
import { capturingLogger } from '../../test/support/log-capture.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import { framesPreface } from '../protocol/frames.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import { Service } from '../service/service.ts';
import { ServiceCaller } from './caller.ts';
import { FrameTransport } from './frame-transport.ts';
import type { SendError } from './transport.ts';

const json = { 'content-type': 'application/json' };

/** A greeter whose `hello` waits `delayMs` when the name asks for it. */
async function greeter(cleanup: Cleanup, options: { bodyLimitBytes?: number; logger?: Logger } = {}) {
  const registry = new MemoryRegistry();
  const service = new Service({ name: 'greeter', registry, deregisterDelayMs: 0, ...options }).handle(Say, {
    async hello(request, context) {
      const delayMs = Number(/wait (\d+)/.exec(request.name)?.[1] ?? 0);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { greeting: `Hello ${request.name} via ${context.requestHeader.get('x-via') ?? '?'}` };
    },
  });
  cleanup(() => service.stop());
  const instance = await service.start();
  return { service, instance, registry };
}

async function listen(server: Server, cleanup: Cleanup): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(() => new Promise((resolve) => server.close(resolve)));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

function transport(cleanup: Cleanup): FrameTransport {
  const created = new FrameTransport();
  cleanup(() => created.close());
  return created;
}

async function failure(promise: Promise<unknown>): Promise<SendError> {
  try {
    await promise;
  } catch (error) {
    return error as SendError;
  }
  assert.fail('expected the call to fail');
}

test('a berth service answers frames: many concurrent calls, each matched to its answer', async (t) => {
  const { instance } = await greeter(t.after.bind(t));
  assert.equal(instance.metadata.frames, '1', 'the instance advertises frames');
  const frames = transport(t.after.bind(t));
  const names = Array.from({ length: 500 }, (_, index) => `caller ${index}`);
  const answers = await Promise.all(
    names.map((name) =>
      frames.post({
        address: instance.address,
        path: '/greeter.v1.Say/Hello',
        headers: { ...json, 'x-via': 'frames' },
        body: JSON.stringify({ name }),
        timeoutMs: 5000,
      }),
    ),
  );
  answers.forEach((answer, index) => {
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(answer.body.toString()), { greeting: `Hello caller ${index} via frames` });
  });
});

test('errors over frames are Connect errors; the connection keeps serving after each', async (t) => {
  const { instance } = await greeter(t.after.bind(t), { bodyLimitBytes: 1024 });
  const frames = transport(t.after.bind(t));
  const post = (path: string, body: string, headers: Record<string, string> = json) =>
    frames.post({ address: instance.address, path, headers, body, timeoutMs: 5000 });
  const cases = [
    { path: '/greeter.v1.Say/Nope', body: '{}', status: 404, code: 'unimplemented' },
    { path: '/greeter.v1.Say/Hello', body: '{"name": 5}', status: 400, code: 'invalid_argument' },
    { path: '/greeter.v1.Say/Hello', body: 'not json', status: 400, code: 'invalid_argument' },
    {
      path: '/greeter.v1.Say/Hello',
      body: JSON.stringify({ name: 'x'.repeat(5000) }),
      status: 429,
      code: 'resource_exhausted',
    },
  ];
  for (const { path, body, status, code } of cases) {
    const answer = await post(path, body);
    assert.equal(answer.status, status, `${path} ${body.slice(0, 20)}`);
    assert.equal(JSON.parse(answer.body.toString()).code, code);
    const after = await post('/greeter.v1.Say/Hello', '{"name":"again"}');
    assert.equal(after.status, 200);
  }
  const unsupported = await post('/greeter.v1.Say/Hello', '{}', { 'content-type': 'text/plain' });
  assert.equal(unsupported.status, 415);
});

test('the service answers DeadlineExceeded at the deadline it was given', async (t) => {
  const { registry } = await greeter(t.after.bind(t));
  const cache = new RegistryCache(registry);
  await cache.start();
  const caller = new ServiceCaller({ cache });
  t.after(async () => {
    await caller.close();
    await cache.close();
  });
  const client = (await import('./typed-client.ts')).createTypedClient(caller, Say, { service: 'greeter' });
  await assert.rejects(client.hello({ name: 'wait 2000' }, { timeoutMs: 150 }), (error: ConnectError) => {
    assert.equal(error.code, Code.DeadlineExceeded);
    return true;
  });
  assert.equal((await client.hello({ name: 'quick' })).greeting, 'Hello quick via ?');
});

test('failures say whether the request may have been seen: refused, lost, timed out, aborted', async (t) => {
  const cleanup = t.after.bind(t);
  const frames = transport(cleanup);

  const refusedAt = await refusingAddress();
  assert.equal(
    (
      await failure(
        frames.post({ address: refusedAt, path: '/a/b', headers: json, body: '{}', timeoutMs: 1000 }),
      )
    ).failure,
    'not-sent',
  );

  // Reads the preface and a frame, then the process "dies".
  const dropping = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
  const droppingAt = await listen(dropping, cleanup);
  assert.equal(
    (
      await failure(
        frames.post({ address: droppingAt, path: '/a/b', headers: json, body: '{}', timeoutMs: 1000 }),
      )
    ).failure,
    'connection-lost',
  );

  const sockets: Socket[] = [];
  const silent = createServer((socket) => sockets.push(socket));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  const silentAt = await listen(silent, cleanup);
  assert.equal(
    (
      await failure(
        frames.post({ address: silentAt, path: '/a/b', headers: json, body: '{}', timeoutMs: 100 }),
      )
    ).failure,
    'timeout',
  );

  const abort = new AbortController();
  const aborted = frames.post({
    address: silentAt,
    path: '/a/b',
    headers: json,
    body: '{}',
    timeoutMs: 5000,
    signal: abort.signal,
  });
  abort.abort();
  assert.equal((await failure(aborted)).failure, 'aborted');
});

test('stopping a service lets calls in flight finish over frames; the next call finds it gone', async (t) => {
  const { service, instance } = await greeter(t.after.bind(t));
  const frames = transport(t.after.bind(t));
  const slow = frames.post({
    address: instance.address,
    path: '/greeter.v1.Say/Hello',
    headers: json,
    body: '{"name":"wait 300"}',
    timeoutMs: 5000,
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const stopped = service.stop();
  const answer = await slow;
  assert.equal(answer.status, 200);
  assert.match(answer.body.toString(), /wait 300/);
  await stopped;
  const after = await failure(
    frames.post({
      address: instance.address,
      path: '/greeter.v1.Say/Hello',
      headers: json,
      body: '{}',
      timeoutMs: 1000,
    }),
  );
  assert.equal(after.failure, 'not-sent');
});

test('a service drops a connection that sends garbage after the preface, says why, and keeps serving', async (t) => {
  const { logger, lines } = capturingLogger();
  const { instance } = await greeter(t.after.bind(t), { logger });
  const [host, port] = instance.address.split(':');
  const { connect } = await import('node:net');
  const socket = connect({ host, port: Number(port) });
  socket.write(Buffer.concat([framesPreface, Buffer.from('\0\0\0\x09\x07garbage!')]));
  await new Promise((resolve) => socket.once('close', resolve));
  const warning = lines.find((line) => line.msg === 'dropped a connection that does not speak berth frames');
  assert.equal(warning?.reason, 'unknown frame kind 7');
  const answer = await transport(t.after.bind(t)).post({
    address: instance.address,
    path: '/greeter.v1.Say/Hello',
    headers: json,
    body: '{}',
    timeoutMs: 1000,
  });
  assert.equal(answer.status, 200);
});

test('callers use frames only with instances that advertise them, and HTTP when told to', async (t) => {
  // An HTTP-only server registered as if it spoke frames: frame calls to it fail.
  const http = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, json);
      res.end('{"greeting":"over http"}');
    });
  });
  const address = await listen(http as unknown as Server, t.after.bind(t));
  const registry = new MemoryRegistry();
  await registry.register({
    id: 'http-only',
    name: 'greeter',
    version: '1',
    address,
    protoServices: ['greeter.v1.Say'],
    metadata: { frames: '1' },
  });
  const cache = new RegistryCache(registry);
  await cache.start();
  t.after(() => cache.close());
  const call = (caller: ServiceCaller) =>
    caller.call({
      service: 'greeter',
      path: '/Say/Hello',
      contentType: 'application/json',
      body: '{}',
      timeoutMs: 1000,
    });
  const auto = new ServiceCaller({ cache, maxAttempts: 1 });
  const http1 = new ServiceCaller({ cache, protocol: 'http' });
  t.after(() => Promise.all([auto.close(), http1.close()]));
  await assert.rejects(call(auto), ConnectError);
  const answer = await call(http1);
  assert.equal(answer.body.toString(), '{"greeting":"over http"}');
});

test('BERTH_CALL_PROTOCOL names what it accepts when set to something else', async (t) => {
  const registry = new MemoryRegistry();
  const cache = new RegistryCache(registry);
  t.after(() => cache.close());
  process.env.BERTH_CALL_PROTOCOL = 'h3';
  t.after(() => {
    delete process.env.BERTH_CALL_PROTOCOL;
  });
  assert.throws(() => new ServiceCaller({ cache }), /BERTH_CALL_PROTOCOL must be "auto" or "http", not "h3"/);
});
