import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { capturingLogger } from '../../test/support/log-capture.ts';
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
