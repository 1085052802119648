import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { Service } from './service.ts';

test('requestLogger() tags a handler’s log lines with the caller’s x-request-id', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const service = new Service({
    name: 'greeter',
    registry: new MemoryRegistry(),
    logger: pino(sink),
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
