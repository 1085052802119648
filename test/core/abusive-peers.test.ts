/**
 * Peers that send more than they are allowed, or ask and never read the answers,
 * cannot make the gateway or a service read or queue without bound: over-limit
 * bodies end the connection after the 413, pipelined requests past the cap are
 * refused, a berth-frames peer that reads nothing stops being read, and the
 * gateway's HTTP/2 relay applies its body limit and deadline to gRPC calls.
 * Each test asserts the mechanism (what the server read, dispatched or closed),
 * never a duration.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { type ClientHttp2Session, connect as connectHttp2, constants as http2 } from 'node:http2';
import type { Socket } from 'node:net';
import { before, test } from 'node:test';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { Gateway } from '../../src/gateway/gateway.ts';
import { encodeRequestFrame, FrameReader, framesPreface } from '../../src/protocol/frames.ts';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { createDualProtocolServer, type DualProtocolServer } from '../../src/service/dual-protocol-server.ts';
import { type FrameResponder, FrameServerConnection } from '../../src/service/frame-server.ts';
import { Service } from '../../src/service/service.ts';
import { type Cleanup, fileCleanup } from '../support/cleanup.ts';
import { type RawConnection, rawConnection } from '../support/raw-connection.ts';
import { waitFor } from '../support/wait.ts';

const after = fileCleanup();
const MiB = 1024 * 1024;
const bodyLimitBytes = MiB;
const gatewayTimeoutMs = 2_000;
/** A failing test would otherwise wait for a close that never comes. */
const bounded = { timeout: 20_000 };
let gatewayPort: number;
/** Names of calls that reached the greeter's handler, and of those whose signal then aborted. */
const handlerStarted = new Set<string>();
const handlerAborted = new Set<string>();

before(async () => {
  const registry = new MemoryRegistry();
  // The service accepts far more than the gateway: any limit a test meets is the gateway's.
  const service = new Service({
    name: 'greeter',
    registry,
    deregisterDelayMs: 0,
    bodyLimitBytes: 64 * MiB,
  }).handle(Say, {
    async hello(request, context) {
      if (request.name.startsWith('hang')) {
        handlerStarted.add(request.name);
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        handlerAborted.add(request.name);
        // As a handler whose I/O takes the signal: its call fails with the reason.
        throw context.signal.reason;
      }
      return { greeting: `Hello ${request.name.slice(0, 20)}` };
    },
  });
  await service.start();
  after(() => service.stop());
  const gateway = new Gateway({ registry, port: 0, bodyLimitBytes, timeoutMs: gatewayTimeoutMs });
  gatewayPort = (await gateway.start()).port;
  after(() => gateway.stop(1_000));
  // The first gRPC call loads node:http2 and connect-node's adapter, and the body
  // waits meanwhile: made here, so the tests' calls flow at once.
  const warmUp = helloCall(grpcSession(after));
  warmUp.stream.end(helloFrame('warm-up'));
  assert.equal((await warmUp.closed)['grpc-status'], '0');
});

/**
 * Writes up to `totalBytes` of body as fast as the connection takes it, and
 * resolves with the bytes the kernel accepted before the server closed it.
 */
async function pushBody(connection: RawConnection, totalBytes: number, chunked: boolean): Promise<number> {
  const { socket } = connection;
  const piece = Buffer.alloc(64 * 1024, 0x20);
  let accepted = 0;
  let offered = 0;
  let gone = false;
  void connection.closed.then(() => {
    gone = true;
  });
  while (offered < totalBytes && !gone) {
    const data = chunked
      ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
      : piece;
    offered += piece.length;
    const flowing = socket.write(data, (error) => {
      if (!error) accepted += piece.length;
    });
    if (!flowing) {
      await new Promise((resolve) => {
        socket.once('drain', resolve);
        void connection.closed.then(resolve);
      });
    }
  }
  await connection.closed;
  return accepted;
}

for (const chunked of [false, true]) {
  test(
    `a body over the limit (${chunked ? 'chunked' : 'declared length'}) gets 413, then the connection closes without reading the rest`,
    bounded,
    async () => {
      const connection = await rawConnection(gatewayPort);
      const total = bodyLimitBytes + 20 * MiB;
      connection.socket.write(
        `POST /rpc HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n${
          chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${total}`
        }\r\n\r\n`,
      );
      const accepted = await pushBody(connection, total, chunked);
      assert.match(connection.received(), /^HTTP\/1\.1 413 /);
      assert.match(connection.received(), /\r\nconnection: close\r\n/i);
      assert.match(connection.received(), /exceeds the limit of 1048576 bytes/);
      // What the socket buffers on both ends absorbed, not the 21 MiB offered.
      assert.ok(accepted < bodyLimitBytes + 8 * MiB, `the client wrote ${accepted} bytes before the close`);
    },
  );
}

/** A bare server whose HTTP/1.1 handler is the test's. */
async function bareServer(
  cleanup: Cleanup,
  onHttp1: (res: ServerResponse) => void,
  limits = {},
): Promise<{ server: DualProtocolServer; port: number }> {
  const server = createDualProtocolServer(
    (_req, res) => onHttp1(res),
    () => assert.fail('no HTTP/2 here'),
    undefined,
    limits,
  );
  const { port } = await server.listen(0, '127.0.0.1');
  cleanup(() => {
    server.stopAccepting();
    return server.drain(0);
  });
  return { server, port };
}

const pipelined = (count: number) => 'GET /item HTTP/1.1\r\nHost: server\r\n\r\n'.repeat(count);

test(
  '150 pipelined requests: 32 are served, the 33rd is answered 429 and the connection closed',
  bounded,
  async (t) => {
    const held: ServerResponse[] = [];
    const { port } = await bareServer(t.after.bind(t), (res) => held.push(res));
    const connection = await rawConnection(port);
    connection.socket.write(pipelined(150));
    await waitFor(() => held.length === 32, { what: '32 requests dispatched' });
    for (const res of held) res.end('ok');
    await connection.closed;
    const statuses = [...connection.received().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
    assert.deepEqual(statuses, [...Array(32).fill('200'), '429']);
    assert.match(connection.received(), /more than 32 requests in flight on one connection/);
    assert.equal(held.length, 32, 'nothing past the refused request reached the handler');
  },
);

test(
  'pipelined requests whose 1 MiB answers are never read: the server stops at the cap and drops the connection',
  bounded,
  async (t) => {
    let dispatched = 0;
    const serverSockets = new Set<Socket>();
    const answer = Buffer.alloc(MiB, 0x61);
    const { port } = await bareServer(
      t.after.bind(t),
      (res) => {
        dispatched += 1;
        // Only the answer being written has the socket; those queued behind it have none yet.
        if (res.socket) serverSockets.add(res.socket);
        res.end(answer);
      },
      { headersTimeoutMs: 300, requestTimeoutMs: 600 },
    );
    const connection = await rawConnection(port, { read: false });
    connection.socket.pause();
    connection.socket.write(pipelined(150));
    await waitFor(() => serverSockets.size === 1, { what: 'the first request' });
    const [serverSocket] = serverSockets;
    if (!serverSocket.destroyed) await once(serverSocket, 'close');
    assert.equal(dispatched, 32, 'at most 32 answers were ever queued');
  },
);

/** A bare server speaking berth frames with the test's request handler. */
async function framesServer(
  cleanup: Cleanup,
  onRequest: (respond: FrameResponder) => void,
  options: { maxInFlight?: number } = {},
): Promise<{ port: number; serverSocket: () => Socket | undefined }> {
  let serverSocket: Socket | undefined;
  const server = createDualProtocolServer(
    () => assert.fail('no HTTP/1.1 here'),
    () => assert.fail('no HTTP/2 here'),
    (socket, first) => {
      serverSocket = socket;
      new FrameServerConnection(socket, first, {
        maxFrameBytes: 1024,
        onRequest: (_frame, respond) => onRequest(respond),
        onOversized: () => assert.fail('nothing oversized is sent'),
        onProtocolError: (reason) => assert.fail(reason),
        ...options,
      });
    },
  );
  const { port } = await server.listen(0, '127.0.0.1');
  cleanup(() => {
    server.stopAccepting();
    return server.drain(0);
  });
  return { port, serverSocket: () => serverSocket };
}

/** Preface and `count` request frames in one write: the server reads them as one chunk, or a few. */
function sendCalls(socket: Socket, count: number): void {
  const frames = Array.from({ length: count }, (_, index) => encodeRequestFrame(index + 1, '/p/M', {}, '{}'));
  socket.write(Buffer.concat([framesPreface, ...frames]));
}

function countAnswers(socket: Socket): () => number {
  let answers = 0;
  const reader = new FrameReader({ response: () => answers++ }, 64 * MiB);
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  return () => answers;
}

test(
  'a frames peer that sends calls and reads no answers stops being read, and is served once it reads',
  bounded,
  async (t) => {
    let dispatched = 0;
    const answer = Buffer.alloc(16 * 1024, 0x61);
    const { port, serverSocket } = await framesServer(t.after.bind(t), (respond) => {
      dispatched += 1;
      respond(200, '{}', answer);
    });
    const calls = 4_000; // 64 MiB of answers: more than the socket buffers on both ends take
    const connection = await rawConnection(port, { read: false });
    connection.socket.pause();
    sendCalls(connection.socket, calls);
    const socket = await waitFor(() => serverSocket()?.isPaused() && serverSocket(), {
      what: 'the server to stop reading',
    });
    assert.ok(dispatched < calls, `${dispatched} of ${calls} calls dispatched`);
    assert.ok(
      socket.writableLength <= MiB + answer.length + 64,
      `${socket.writableLength} bytes of answers queued in the process`,
    );
    const answers = countAnswers(connection.socket);
    connection.socket.resume();
    await waitFor(() => answers() === calls, { what: 'every call answered', timeoutMs: 15_000 });
  },
);

test(
  'a frames peer with too many calls in flight stops being read until some are answered',
  bounded,
  async (t) => {
    const held: FrameResponder[] = [];
    const { port, serverSocket } = await framesServer(t.after.bind(t), (respond) => held.push(respond), {
      maxInFlight: 50,
    });
    const connection = await rawConnection(port, { read: false });
    const answers = countAnswers(connection.socket);
    sendCalls(connection.socket, 200);
    await waitFor(() => held.length === 50, { what: '50 calls in flight' });
    assert.equal(serverSocket()?.isPaused(), true);
    assert.equal(held.length, 50, 'the frames read with the first 50 wait, undispatched');
    while (answers() < 200) {
      for (const respond of held.splice(0)) respond(200, '{}', 'ok');
      await waitFor(() => held.length > 0 || answers() === 200, { what: 'more calls or every answer' });
    }
  },
);

/** A gRPC HelloRequest frame (length-prefixed) whose name is `name`. */
function helloFrame(name: string | Buffer): Buffer {
  const bytes = typeof name === 'string' ? Buffer.from(name) : name;
  const varint: number[] = [];
  for (let rest = bytes.length; ; rest >>>= 7) {
    if (rest < 0x80) {
      varint.push(rest);
      break;
    }
    varint.push((rest & 0x7f) | 0x80);
  }
  const message = Buffer.concat([Buffer.from([0x0a, ...varint]), bytes]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

function grpcSession(cleanup: Cleanup): ClientHttp2Session {
  const session = connectHttp2(`http://127.0.0.1:${gatewayPort}`);
  session.on('error', () => {});
  cleanup(() => session.destroy());
  return session;
}

/** Starts a call to Say.Hello through the gateway; resolves what the client saw once its stream closed. */
function helloCall(session: ClientHttp2Session, headers: Record<string, string> = {}) {
  const stream = session.request({
    ':method': 'POST',
    ':path': '/greeter.v1.Say/Hello',
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  const seen: Record<string, unknown> = {};
  stream.on('response', (responseHeaders) => Object.assign(seen, responseHeaders));
  stream.on('trailers', (trailers) => Object.assign(seen, trailers));
  stream.on('error', () => {});
  stream.resume();
  const closed = once(stream, 'close').then(() => seen);
  return { stream, closed };
}

test(
  'gRPC through the gateway: a 6 MiB request is RESOURCE_EXHAUSTED and its stream closes',
  bounded,
  async (t) => {
    const { stream, closed } = helloCall(grpcSession(t.after.bind(t)));
    stream.end(helloFrame(Buffer.alloc(6 * MiB, 0x61)));
    const seen = await closed;
    assert.equal(seen['grpc-status'], '8');
    assert.match(decodeURIComponent(String(seen['grpc-message'])), /exceeds the limit of 1048576 bytes/);
  },
);

test(
  "gRPC through the gateway: the gateway's deadline ends a call and resets the instance's stream",
  bounded,
  async (t) => {
    const { stream, closed } = helloCall(grpcSession(t.after.bind(t)));
    stream.end(helloFrame('hang-deadline'));
    const seen = await closed;
    assert.equal(seen['grpc-status'], '4');
    // The client gave no deadline, so the instance is told none (the gateway never
    // invents one): only the gateway's own timer can end this call.
    assert.match(
      decodeURIComponent(String(seen['grpc-message'])),
      /deadline of 2000 ms exceeded at the gateway/,
    );
    await waitFor(() => handlerAborted.has('hang-deadline'), { what: "the handler's signal to abort" });
  },
);

test(
  "gRPC through the gateway: a client's shorter grpc-timeout wins over the gateway's",
  bounded,
  async (t) => {
    const { stream, closed } = helloCall(grpcSession(t.after.bind(t)), { 'grpc-timeout': '200m' });
    stream.end(helloFrame('hang-client-timeout'));
    const seen = await closed;
    assert.equal(seen['grpc-status'], '4');
    // The gateway's answer, or the instance's, which can only time out this soon if the
    // gateway passed on the client's 200 ms (its own deadline is 2000 ms).
    assert.match(
      decodeURIComponent(String(seen['grpc-message'])),
      /deadline of 200 ms|^the operation timed out$/,
    );
  },
);

test(
  'gRPC through the gateway: a client that goes away resets the call at the instance',
  bounded,
  async (t) => {
    const session = grpcSession(t.after.bind(t));
    const { stream } = helloCall(session);
    stream.end(helloFrame('hang-cancelled'));
    await waitFor(() => handlerStarted.has('hang-cancelled'), { what: 'the call to reach the handler' });
    stream.close(http2.NGHTTP2_CANCEL);
    await waitFor(() => handlerAborted.has('hang-cancelled'), { what: "the handler's signal to abort" });
  },
);

test('an HTTP/2 connection may open at most 100 streams at once (SETTINGS_MAX_CONCURRENT_STREAMS)', async (t) => {
  const session = grpcSession(t.after.bind(t));
  // Node's default would announce 4294967295: one connection could open streams without end.
  const [settings] = (await once(session, 'remoteSettings')) as [{ maxConcurrentStreams?: number }];
  assert.equal(settings.maxConcurrentStreams, 100);
});
