import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { capturingLogger } from '../../test/support/log-capture.ts';
import { rawConnection } from '../../test/support/raw-connection.ts';
import { Gateway } from '../gateway/gateway.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { Service } from './service.ts';

test('requestLogger() tags a handler’s log lines with the caller’s x-request-id', async (t) => {
  const { logger, lines } = capturingLogger();
  const service = new Service({
    name: 'greeter',
    registry: new MemoryRegistry(),
    logger,
    deregisterDelayMs: 0,
  });
  service.handle(Say, {
    async hello(request) {
      service.requestLogger().info({ name: request.name }, 'greeting');
      return { greeting: `Hello ${request.name}` };
    },
  });
  const instance = await service.start();
  t.after(() => service.stop());
  const response = await fetch(`http://${instance.address}/greeter.v1.Say/Hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'req-42' },
    body: JSON.stringify({ name: 'Ewan' }),
  });
  assert.equal(response.status, 200);
  const line = lines.find((entry) => entry.msg === 'greeting');
  assert.equal(line?.requestId, 'req-42');
  assert.equal(line?.service, 'greeter');
});

test('response headers and trailers a handler sets reach Connect clients, straight and through the gateway', async (t) => {
  const registry = new MemoryRegistry();
  const service = new Service({ name: 'greeter', registry, deregisterDelayMs: 0 }).handle(Say, {
    hello(request, context) {
      context.responseHeader.set('x-served-by', 'greeter-1');
      context.responseTrailer.set('x-cost', '3');
      return { greeting: `Hello ${request.name}` };
    },
  });
  const instance = await service.start();
  t.after(() => service.stop());
  const gateway = new Gateway({ registry, port: 0 });
  const { port } = await gateway.start();
  t.after(() => gateway.stop(1_000));
  for (const baseUrl of [`http://${instance.address}`, `http://127.0.0.1:${port}`]) {
    for (const useBinaryFormat of [false, true]) {
      const client = createClient(
        Say,
        createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat }),
      );
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      const response = await client.hello(
        { name: 'Ida' },
        { onHeader: (value) => (header = value), onTrailer: (value) => (trailer = value) },
      );
      assert.equal(response.greeting, 'Hello Ida');
      assert.equal(header?.get('x-served-by'), 'greeter-1', baseUrl);
      assert.equal(trailer?.get('x-cost'), '3', baseUrl);
    }
  }
});

const unreadBodies = [
  { what: 'a call body over the limit (declared length)', method: 'Hello', chunked: false },
  { what: 'a call body over the limit (chunked)', method: 'Hello', chunked: true },
  { what: 'the body of a call to a method the service lacks', method: 'Nope', chunked: false },
];
for (const { what, method, chunked } of unreadBodies) {
  const overLimit = method === 'Hello';
  test(`${what} is refused and the connection closes unread`, {
    timeout: 20_000,
  }, async (t) => {
    const limit = 64 * 1024;
    const service = new Service({
      name: 'greeter',
      registry: new MemoryRegistry(),
      deregisterDelayMs: 0,
      bodyLimitBytes: limit,
    }).handle(Say, { hello: (request) => ({ greeting: `Hello ${request.name}` }) });
    const { address } = await service.start();
    t.after(() => service.stop());
    const [host, port] = address.split(':');
    const socket = connect({ host, port: Number(port) });
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    let closed = false;
    const close = new Promise((resolve) => socket.once('close', resolve)).then(() => {
      closed = true;
    });
    await once(socket, 'connect');
    const total = 32 * 1024 * 1024;
    socket.write(
      `POST /greeter.v1.Say/${method} HTTP/1.1\r\nHost: greeter\r\nContent-Type: application/json\r\n${
        chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${total}`
      }\r\n\r\n`,
    );
    // As fast as the connection takes it, until the server closes it or all is written.
    const piece = Buffer.alloc(64 * 1024, 0x20);
    const framed = chunked ? Buffer.concat([Buffer.from('10000\r\n'), piece, Buffer.from('\r\n')]) : piece;
    let offered = 0;
    while (offered < total && !closed) {
      offered += piece.length;
      if (!socket.write(framed)) {
        // Not events.once: it rejects on the EPIPE that may come before 'close'.
        await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), close]);
      }
    }
    await close;
    // Connect's resource_exhausted, as for a frame over the limit; connect-node's 404 for no such method.
    assert.match(received, overLimit ? /^HTTP\/1\.1 429 / : /^HTTP\/1\.1 404 /);
    assert.match(received, /\r\nconnection: close\r\n/i);
    if (overLimit) {
      assert.match(
        received,
        /"code":"resource_exhausted","message":"request body of \d+ bytes exceeds the limit of 65536"/,
      );
    }
    // Socket buffers absorb a few MiB; without the limit, the service read all 32 MiB and kept the connection.
    assert.ok(offered < total, `the client wrote all ${offered} bytes before the close`);
  });
}

test('a service takes connection limits of its own: one past its pipelining limit is answered 429', async (t) => {
  assert.throws(
    () =>
      new Service({
        name: 'greeter',
        registry: new MemoryRegistry(),
        connectionLimits: { headersTimeoutMs: 0 },
      }),
    /headersTimeoutMs must be a positive integer, got 0/,
  );
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started = () => {};
  const heldStarted = new Promise<void>((resolve) => {
    started = resolve;
  });
  const service = new Service({
    name: 'greeter',
    registry: new MemoryRegistry(),
    deregisterDelayMs: 0,
    connectionLimits: { maxPipelinedRequests: 1 },
  }).handle(Say, {
    async hello(request) {
      if (request.name === 'held') {
        started();
        await held;
      }
      return { greeting: `Hello ${request.name}` };
    },
  });
  const { address } = await service.start();
  t.after(() => service.stop());
  const { socket, received, closed } = await rawConnection(Number(address.split(':')[1]));
  const call = (name: string) => {
    const body = JSON.stringify({ name });
    return `POST /greeter.v1.Say/Hello HTTP/1.1\r\nHost: greeter\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  };
  // One write, so node:http parses both before the first handler runs: the second is
  // one past the limit while the first is held (the default, 32, would queue it).
  socket.write(call('held') + call('second'));
  await heldStarted;
  release(); // the 429 goes out after the first answer, in order, then the connection closes
  await closed;
  assert.match(received(), /HTTP\/1\.1 429 /);
});
