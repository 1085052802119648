import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import type { Cleanup } from '../../test/support/cleanup.ts';
import { refusingAddress } from '../../test/support/instances.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import type { ServiceInstance } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import { Service } from '../service/service.ts';
import { ServiceCaller } from './caller.ts';
import { createTypedClient } from './typed-client.ts';

/** A registry, a cache over it and a caller, all closed by `cleanup`. */
async function setup(cleanup: Cleanup) {
  const registry = new MemoryRegistry();
  const cache = new RegistryCache(registry);
  await cache.start();
  const caller = new ServiceCaller({ cache });
  cleanup(async () => {
    await caller.close();
    await cache.close();
    await registry.close();
  });
  return { registry, cache, caller };
}

/** A greeter served in this process, answering with the name of the service it is. */
async function greeter(registry: MemoryRegistry, name: string, cleanup: Cleanup): Promise<ServiceInstance> {
  const service = new Service({ name, registry, deregisterDelayMs: 0 }).handle(Say, {
    hello: () => ({ greeting: `from ${name}` }),
  });
  cleanup(() => service.stop());
  return service.start();
}

function instanceAt(address: string, name: string): ServiceInstance {
  return {
    id: `${name}-${address}`,
    name,
    version: '1',
    address,
    protoServices: ['greeter.v1.Say'],
    metadata: {},
  };
}

/** Accepts connections and drops each one once a request arrives: a process dying mid-call. */
async function droppingServer(cleanup: Cleanup): Promise<string> {
  const server: Server = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(() => new Promise((resolve) => server.close(resolve)));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

const hello = (idempotent: boolean) => ({
  service: 'greeter',
  path: '/greeter.v1.Say/Hello',
  contentType: 'application/json',
  body: '{"name":"x"}',
  idempotent,
});

test('a call to an instance that refuses connections is retried on another', async (t) => {
  const { registry, caller } = await setup(t.after.bind(t));
  await registry.register(instanceAt(await refusingAddress(), 'greeter'));
  await greeter(registry, 'greeter', t.after.bind(t));
  for (let i = 0; i < 20; i++) {
    // Not sent at all, so safe to retry even when the method is not idempotent.
    const response = await caller.call(hello(false));
    assert.equal(response.status, 200, `call ${i}`);
  }
});

test('a connection lost mid-call is retried only for idempotent methods', async (t) => {
  const { registry, caller } = await setup(t.after.bind(t));
  await registry.register(instanceAt(await droppingServer(t.after.bind(t)), 'greeter'));
  await greeter(registry, 'greeter', t.after.bind(t));
  let failed = 0;
  for (let i = 0; i < 10; i++) {
    assert.equal((await caller.call(hello(true))).status, 200, `idempotent call ${i}`);
    await caller.call(hello(false)).catch((error: unknown) => {
      assert.ok(error instanceof ConnectError && error.code === Code.Unavailable, String(error));
      assert.match(error.rawMessage, /^greeter at 127\.0\.0\.1:\d+ is unreachable/);
      failed++;
    });
  }
  // Round-robin sends some of the non-idempotent calls to the dropping server; until
  // ejection leaves it out, those fail rather than risk running twice.
  assert.ok(failed > 0, 'no non-idempotent call reached the dropping server');
});

test('no instance at all is Unavailable naming the service', async (t) => {
  const { caller } = await setup(t.after.bind(t));
  await assert.rejects(caller.call(hello(true)), {
    code: Code.Unavailable,
    rawMessage: 'no instance of "greeter" is available',
  });
});

test('a call made inside a handler carries its deadline and metadata downstream', async (t) => {
  const { registry, caller } = await setup(t.after.bind(t));
  const back = new Service({ name: 'back', registry, deregisterDelayMs: 0 }).handle(Say, {
    async hello(request, context) {
      const remaining = context.timeoutMs();
      const authorization = context.requestHeader.get('authorization');
      if (request.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, request.delayMs));
      return { greeting: `${authorization}|${remaining}` };
    },
  });
  t.after(() => back.stop());
  await back.start();
  const front = new Service({ name: 'front', registry, deregisterDelayMs: 0 });
  const backClient = front.client(Say, { service: 'back' });
  front.handle(Say, { hello: (request) => backClient.hello(request) });
  t.after(() => front.stop());
  await front.start();
  await front.caller.cache.waitFor('back', 2_000);

  const frontClient = createTypedClient(caller, Say, { service: 'front' });
  const headers = { Authorization: 'Bearer abc' };
  const { greeting } = await frontClient.hello({ name: 'x' }, { headers, timeoutMs: 2_000 });
  const [authorization, remaining] = greeting.split('|');
  assert.equal(authorization, 'Bearer abc');
  assert.ok(Number(remaining) > 0 && Number(remaining) <= 2_000, `back saw ${remaining} ms left`);

  // The front's own default timeout (10 s) does not outlive the caller's 200 ms.
  await assert.rejects(frontClient.hello({ name: 'x', delayMs: 2_000 }, { headers, timeoutMs: 200 }), {
    code: Code.DeadlineExceeded,
  });
});
