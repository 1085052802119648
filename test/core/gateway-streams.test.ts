/**
 * Streams through the gateway's HTTP/2 relay: the body limit applies to each
 * message of an enveloped stream, not to the stream's total, so a long-lived
 * stream of small messages is not cut off; one message over the limit still is.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { Gateway, MemoryRegistry, Service } from 'berth';
import { conformanceService } from '../conformance/conformance-service.ts';
import { ConformanceService } from '../conformance/gen/connectrpc/conformance/v1/service_pb.js';
import { fileCleanup } from '../support/cleanup.ts';

const limit = 64 * 1024;
const cleanup = fileCleanup();
let client: ReturnType<typeof createClient<typeof ConformanceService>>;

before(async () => {
  const registry = new MemoryRegistry();
  const service = new Service({ name: 'conformance', registry }).handle(
    ConformanceService,
    conformanceService,
  );
  await service.start();
  const gateway = new Gateway({ registry, port: 0, bodyLimitBytes: limit });
  const { port } = await gateway.start();
  const sessions = new Http2SessionManager(`http://127.0.0.1:${port}`);
  client = createClient(
    ConformanceService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, sessionManager: sessions }),
  );
  cleanup(async () => {
    sessions.abort();
    await gateway.stop();
    await service.stop();
  });
});

async function* messages(count: number, size: number) {
  for (let i = 0; i < count; i++) yield { requestData: new Uint8Array(size).fill(i % 256) };
}

test('a client stream of 100 messages of 10 KiB (1 MiB in all) passes a 64 KiB limit', async () => {
  const answer = await client.clientStream(messages(100, 10 * 1024));
  assert.equal(answer.payload?.requestInfo?.requests.length, 100);
});

test('one message over the limit in a stream ends it RESOURCE_EXHAUSTED, naming the size', async () => {
  await assert.rejects(
    client.clientStream(messages(1, limit + 1)),
    (error: unknown) =>
      error instanceof ConnectError &&
      error.code === Code.ResourceExhausted &&
      /message of \d+ bytes exceeds the limit of 65536 bytes/.test(error.rawMessage),
  );
});
