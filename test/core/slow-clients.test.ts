/**
 * Clients that are slow or never finish cannot hold a connection: the gateway
 * (and every service: both use dual-protocol-server.ts) closes a connection that
 * sends nothing, trickles its headers or its body, or stays idle, over HTTP/1.1,
 * HTTP/2 and berth frames. Timeouts are configured short here; each test waits
 * for the server to close the socket, which without the limit never happens.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectHttp2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { before, test } from 'node:test';
import { Gateway } from '../../src/gateway/gateway.ts';
import { encodeRequestFrame, FrameReader, framesPreface } from '../../src/protocol/frames.ts';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { createDualProtocolServer, resolveConnectionLimits } from '../../src/service/dual-protocol-server.ts';
import { type FrameResponder, FrameServerConnection } from '../../src/service/frame-server.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { rawConnection } from '../support/raw-connection.ts';

const after = fileCleanup();
const limits = {
  headersTimeoutMs: 300,
  requestTimeoutMs: 600,
  keepAliveTimeoutMs: 300,
  sniffTimeoutMs: 300,
  idleTimeoutMs: 300,
};
/** A failing test would otherwise wait for a close that never comes. */
const bounded = { timeout: 15_000 };
let gatewayPort: number;

before(async () => {
  const gateway = new Gateway({ registry: new MemoryRegistry(), port: 0, connectionLimits: limits });
  gatewayPort = (await gateway.start()).port;
  after(() => gateway.stop(1_000));
});

/** Writes `next()` every `everyMs` until the socket closes or `max` writes; resolves with the count. */
async function trickle(socket: Socket, everyMs: number, max: number, next: () => string): Promise<number> {
  let writes = 0;
  while (writes < max && !socket.destroyed && socket.writable) {
    socket.write(next());
    writes += 1;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return writes;
}

test('limits are checked: a bad one is named', () => {
  assert.throws(
    () => resolveConnectionLimits({ idleTimeoutMs: 0 }),
    /idleTimeoutMs must be a positive integer/,
  );
  assert.throws(
    () => resolveConnectionLimits({ headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }),
    /headersTimeoutMs \(20000\) must not exceed requestTimeoutMs \(10000\)/,
  );
  assert.throws(
    () => new Gateway({ registry: new MemoryRegistry(), connectionLimits: { maxConnections: -1 } }),
    /maxConnections/,
  );
});

test('a connection that sends nothing is closed after the sniff timeout', bounded, async () => {
  const { received, closed } = await rawConnection(gatewayPort);
  await closed;
  assert.equal(received(), '', 'closed without an answer: nothing was asked');
});

test('headers trickled a line at a time get 408 and the connection closed', bounded, async () => {
  const { socket, received, closed } = await rawConnection(gatewayPort);
  socket.write('GET /nowhere HTTP/1.1\r\nHost: gateway\r\n');
  let line = 0;
  const lines = await trickle(socket, 100, 100, () => `X-Slow-${line++}: 1\r\n`);
  await closed;
  assert.match(received(), /^HTTP\/1\.1 408 /);
  assert.ok(lines < 100, `closed while the client was still sending headers (${lines} lines)`);
});

test('a body trickled a byte at a time gets 408 and the connection closed', bounded, async () => {
  const { socket, received, closed } = await rawConnection(gatewayPort);
  socket.write(
    'POST /rpc HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
  );
  const bytes = await trickle(socket, 50, 1000, () => ' ');
  await closed;
  assert.match(received(), /^HTTP\/1\.1 408 /);
  assert.ok(bytes < 1000, `closed before the body was complete (${bytes} bytes)`);
});

test(
  'a kept-alive connection with nothing in flight is closed after the keep-alive timeout',
  bounded,
  async () => {
    const { socket, received, closed } = await rawConnection(gatewayPort);
    socket.write('GET /nowhere HTTP/1.1\r\nHost: gateway\r\n\r\n');
    await closed;
    assert.match(received(), /^HTTP\/1\.1 404 /);
    assert.doesNotMatch(received(), /connection: close/i, 'kept alive after the answer, then closed as idle');
  },
);

test('an HTTP/2 session with no stream open is closed after the idle timeout', bounded, async () => {
  const session = connectHttp2(`http://127.0.0.1:${gatewayPort}`);
  session.on('error', () => {});
  const goaway = once(session, 'goaway');
  await once(session, 'connect');
  await goaway;
  await once(session, 'close');
});

test(
  'an idle berth-frames connection gets GOAWAY, then is closed; a slow call in flight is not idleness',
  bounded,
  async (t) => {
    const serverSockets: Socket[] = [];
    const server = createDualProtocolServer(
      () => assert.fail('no HTTP/1.1 here'),
      () => assert.fail('no HTTP/2 here'),
      (socket, first) => {
        serverSockets.push(socket);
        // The answer waits until the idle timeout has fired at least once with the call in flight.
        const answerAfterIdle = (respond: FrameResponder) =>
          socket.once('timeout', () => setImmediate(() => respond(200, '{}', 'late but answered')));
        new FrameServerConnection(socket, first, {
          maxFrameBytes: 1024,
          onRequest: (_frame, respond) => answerAfterIdle(respond),
          onOversized: () => assert.fail('nothing oversized is sent'),
          onProtocolError: (reason) => assert.fail(reason),
        });
      },
      limits,
    );
    const { port } = await server.listen(0, '127.0.0.1');
    t.after(() => {
      server.stopAccepting();
      return server.drain(0);
    });
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    const closed = once(socket, 'close');
    const events: string[] = [];
    const reader = new FrameReader(
      {
        response: (frame) => events.push(`response ${frame.id}: ${frame.body.toString()}`),
        goAway: () => events.push('goaway'),
      },
      1024,
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.write(framesPreface);
    socket.write(encodeRequestFrame(1, '/greeter.v1.Say/Hello', {}, '{}'));
    await closed;
    assert.deepEqual(events, ['response 1: late but answered', 'goaway']);
    assert.equal(serverSockets.length, 1);
  },
);
