import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { Service } from './service.ts';

const opsPaths = ['/healthz', '/readyz', '/metrics'];

function greeter(registry: MemoryRegistry, opsPort?: number): Service {
  return new Service({ name: 'greeter', registry, deregisterDelayMs: 0, opsPort }).handle(Say, {
    hello: (request) => ({ greeting: `Hello ${request.name}` }),
  });
}

test('with opsPort, /healthz /readyz /metrics are served there only, and the instance registers it', async (t) => {
  const registry = new MemoryRegistry();
  const service = greeter(registry, 0);
  const instance = await service.start();
  t.after(() => service.stop());
  const opsPort = Number(instance.metadata.opsPort);
  assert.ok(opsPort > 0, `metadata.opsPort is the bound port (got ${instance.metadata.opsPort})`);
  assert.notEqual(opsPort, Number(instance.address.split(':')[1]));
  assert.equal((await registry.list('greeter'))[0]?.metadata.opsPort, String(opsPort));

  const call = await fetch(`http://${instance.address}/greeter.v1.Say/Hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Ada' }),
  });
  assert.equal(call.status, 200, 'the service port serves calls');
  for (const path of opsPaths) {
    const response = await fetch(`http://${instance.address}${path}`);
    await response.arrayBuffer();
    assert.equal(response.status, 404, `public ${path}`);
  }

  const ops = `http://127.0.0.1:${opsPort}`;
  assert.deepEqual(await (await fetch(`${ops}/healthz`)).json(), {
    status: 'ok',
    service: 'greeter',
    instance: service.instanceId,
  });
  assert.deepEqual(await (await fetch(`${ops}/readyz`)).json(), { ready: true, checks: { serving: 'ok' } });
  const metrics = await fetch(`${ops}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /berth_rpc_requests_total\{[^}]*method="Say.Hello"[^}]*\} 1/);
  // Nothing else: the ops port is no way into the service's methods.
  const method = await fetch(`${ops}/greeter.v1.Say/Hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(method.status, 404);
  await method.arrayBuffer();

  await service.stop();
  await assert.rejects(fetch(`${ops}/healthz`), 'stop() closes the ops port');
});

test('without opsPort, the service port serves the ops endpoints and no opsPort is registered', async (t) => {
  const service = greeter(new MemoryRegistry());
  const instance = await service.start();
  t.after(() => service.stop());
  assert.equal(instance.metadata.opsPort, undefined);
  for (const path of opsPaths) {
    const response = await fetch(`http://${instance.address}${path}`);
    await response.arrayBuffer();
    assert.equal(response.status, 200, path);
  }
});

test('an ops port that is taken fails start(), naming the port', async (t) => {
  const first = greeter(new MemoryRegistry(), 0);
  const taken = Number((await first.start()).metadata.opsPort);
  t.after(() => first.stop());
  const second = greeter(new MemoryRegistry(), taken);
  await assert.rejects(
    second.start(),
    new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken} for the ops endpoints: .*EADDRINUSE`),
  );
});

test('an ops port the runtime supplies (runMain: BERTH_OPS_PORT) applies to a service built without one', async (t) => {
  const service = greeter(new MemoryRegistry());
  const instance = await service.start({ opsPort: 0 });
  t.after(() => service.stop());
  const opsPort = Number(instance.metadata.opsPort);
  assert.ok(opsPort > 0, `metadata.opsPort is the bound port (got ${instance.metadata.opsPort})`);
  const healthz = await fetch(`http://127.0.0.1:${opsPort}/healthz`);
  assert.equal(healthz.status, 200);
  await healthz.arrayBuffer();
  const publicHealthz = await fetch(`http://${instance.address}/healthz`);
  await publicHealthz.arrayBuffer();
  assert.equal(publicHealthz.status, 404);
});
