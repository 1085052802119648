import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { Service } from './service.ts';

/**
 * A service with a 1 KiB body limit, and a client connected to it half open, as a
 * client still sending its body is once the server has finished.
 */
async function halfOpenClient(t: TestContext): Promise<Socket> {
  const service = new Service({
    name: 'greeter',
    registry: new MemoryRegistry(),
    deregisterDelayMs: 0,
    bodyLimitBytes: 1024,
  });
  service.handle(Say, { hello: (request) => ({ greeting: `Hello ${request.name}` }) });
  const instance = await service.start();
  t.after(() => service.stop());
  const [host, port] = instance.address.split(':');
  const socket = connect({ host, port: Number(port), allowHalfOpen: true });
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

test('an HTTP/1.1 answer sent before the body was read closes gently: the client keeps writing, then reads the answer and a clean close', async (t) => {
  const socket = await halfOpenClient(t);

  let received = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => {
    received += chunk;
  });
  const errors: Error[] = [];
  socket.on('error', (error) => errors.push(error));
  const bodyBytes = 512 * 1024;
  // Over the limit: the answer comes as soon as the headers are read, long before the body is.
  socket.write(
    'POST /greeter.v1.Say/Hello HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
      `content-length: ${bodyBytes}\r\n\r\n${' '.repeat(1000)}`,
  );
  await once(socket, 'end'); // the server has answered and closed its sending side
  assert.match(received, /^HTTP\/1\.1 429 /);
  assert.match(received, /connection: close/i);
  // The client is still writing its body: the server must read it, not reset the connection.
  socket.end(' '.repeat(bodyBytes - 1000));
  await once(socket, 'close');
  assert.deepEqual(errors, []);
});

test('after an early HTTP/1.1 answer the service reads a bounded amount more, then resets a client that keeps sending', async (t) => {
  const socket = await halfOpenClient(t);
  socket.on('error', () => {}); // the reset is the point
  let closed = false;
  const close = new Promise((resolve) => socket.once('close', resolve)).then(() => {
    closed = true;
  });
  const total = 512 * 1024 * 1024;
  socket.write(
    'POST /greeter.v1.Say/Hello HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
      `content-length: ${total}\r\n\r\n`,
  );
  socket.resume();
  await once(socket, 'end');
  const piece = Buffer.alloc(256 * 1024, 0x20);
  let offered = 0;
  while (offered < total && !closed) {
    offered += piece.length;
    // Not events.once: it rejects on the EPIPE that may come before 'close'.
    if (!socket.write(piece))
      await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), close]);
  }
  socket.end();
  await close;
  // The service drops at most about 1 MiB (plus socket buffers and one tick's reading), never the whole body.
  assert.ok(offered < total, `the client wrote all ${offered} bytes before the service closed`);
});
