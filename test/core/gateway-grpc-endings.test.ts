/**
 * How the gateway relays the ends of an instance's gRPC streams that carry no
 * trailers of their own. A gRPC client reads a call's status from trailers (or
 * from a trailers-only answer): an answer relayed as headers and a bare end is,
 * to grpc-go, "server closed the stream without sending trailers". These
 * instances are raw node:http2 servers that end their streams as a berth service
 * at its deadline, or a crashing one, may.
 */
import assert from 'node:assert/strict';
import {
  type ClientHttp2Session,
  connect,
  constants,
  createServer,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { before, test } from 'node:test';
import { Gateway, MemoryRegistry } from 'berth';
import { fileCleanup } from '../support/cleanup.ts';

const cleanup = fileCleanup();
let client: ClientHttp2Session;

/** How the instance ends each method's stream, once the request has arrived. */
const endings: Record<string, (stream: ServerHttp2Stream) => void> = {
  TrailersOnly(stream) {
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '4', 'grpc-message': 'late' },
      { endStream: true },
    );
  },
  EndWithoutTrailers(stream) {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.end();
  },
  ResetAfterHeaders(stream) {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.close(constants.NGHTTP2_CANCEL);
  },
};

before(async () => {
  const instance = createServer();
  instance.on('stream', (stream, headers) => {
    const method = String(headers[':path']).split('/').pop() ?? '';
    stream.resume();
    stream.on('end', () => endings[method]?.(stream));
  });
  await new Promise<void>((resolve) => instance.listen(0, '127.0.0.1', resolve));
  cleanup(() => new Promise((resolve) => instance.close(resolve)));
  const registry = new MemoryRegistry();
  await registry.register({
    id: 'odd-1',
    name: 'odd',
    version: '1',
    address: `127.0.0.1:${(instance.address() as AddressInfo).port}`,
    protoServices: ['test.v1.Odd'],
    metadata: {},
  });
  const gateway = new Gateway({ registry, port: 0 });
  const { port } = await gateway.start();
  client = connect(`http://127.0.0.1:${port}`);
  cleanup(async () => {
    client.close();
    await gateway.stop();
  });
});

interface Ending {
  readonly headers: IncomingHttpHeaders;
  /** The status a gRPC client reads: from the trailers, or from a trailers-only answer. */
  readonly status: IncomingHttpHeaders;
}

function call(method: string, extraHeaders: Record<string, string> = {}): Promise<Ending> {
  return new Promise((resolve, reject) => {
    const stream = client.request({
      ':method': 'POST',
      ':path': `/test.v1.Odd/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...extraHeaders,
    });
    let headers: IncomingHttpHeaders = {};
    let status: IncomingHttpHeaders | undefined;
    stream.on('response', (answered, flags) => {
      headers = answered;
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) status = answered;
    });
    stream.on('trailers', (trailers) => {
      status = trailers;
    });
    stream.on('error', reject);
    stream.resume();
    stream.on('close', () =>
      status === undefined
        ? reject(new Error(`the stream ended without a gRPC status (reset code ${stream.rstCode})`))
        : resolve({ headers, status }),
    );
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}

test("an instance's trailers-only answer reaches the client with its status", async () => {
  const { status } = await call('TrailersOnly');
  assert.equal(status['grpc-status'], '4');
  assert.equal(status['grpc-message'], 'late');
});

test('an instance ending its stream without trailers: INTERNAL, naming the instance', async () => {
  const { headers, status } = await call('EndWithoutTrailers');
  assert.equal(headers[':status'], 200);
  assert.equal(status['grpc-status'], String(13));
  assert.match(
    decodeURIComponent(String(status['grpc-message'])),
    /instance 127\.0\.0\.1:\d+ .*without a gRPC status/,
  );
});

test('an instance resetting its stream after the headers: the client still gets a status', async () => {
  const { status } = await call('ResetAfterHeaders');
  assert.equal(status['grpc-status'], '13');
  assert.match(decodeURIComponent(String(status['grpc-message'])), /instance 127\.0\.0\.1:\d+ /);
});
