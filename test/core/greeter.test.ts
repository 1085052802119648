/**
 * The greeter as real processes behind an in-process gateway: every way in
 * (`/rpc`, path routes, Connect, gRPC, gRPC-Web, straight and through the
 * gateway), health and metrics, balancing over replicas, and metadata reaching
 * the service.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from '@connectrpc/connect-node';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { Code, ConnectError } from '../../src/errors/berth-error.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { Health, HealthCheckResponse_ServingStatus } from '../../src/gen/grpc/health/v1/health_pb.js';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { Service } from '../../src/service/service.ts';
import { type Cleanup, fileCleanup } from '../support/cleanup.ts';
import { refusingAddress } from '../support/instances.ts';
import { type ServiceProcess, startGreeter, tempRegistry } from '../support/processes.ts';

const after = fileCleanup();
let greeters: ServiceProcess[];
let gateway: Gateway;
let gatewayUrl: string;

before(async () => {
  const { dir, registry } = await tempRegistry(after);
  greeters = await Promise.all([startGreeter(dir, after), startGreeter(dir, after)]);
  gateway = new Gateway({ registry, port: 0, knownServices: ['greeter'] });
  const { port } = await gateway.start();
  gatewayUrl = `http://127.0.0.1:${port}`;
  after(() => gateway.stop(1_000));
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${gatewayUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** HTTP/2 clients hold a session: each test closes the ones it opened. */
function grpcTransport(baseUrl: string, cleanup: Cleanup) {
  const sessionManager = new Http2SessionManager(baseUrl);
  cleanup(() => sessionManager.abort());
  return createGrpcTransport({ baseUrl, sessionManager });
}

test('POST /rpc calls the service by short and by system name', async () => {
  for (const service of ['greeter', 'examples.greeter']) {
    const { status, body } = await post('/rpc', {
      service,
      method: 'Say.Hello',
      request: { name: 'Ada' },
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.greeting, 'Hello Ada');
    assert.match(String(body.instance_id), /^greeter-/);
  }
});

test('a path route calls <Object>.<Method> with the body as the request', async () => {
  const { status, body } = await post('/greeter/say/hello', { name: 'Bob' });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.greeting, 'Hello Bob');
});

test('calls through the gateway are spread over both replicas', async () => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const { body } = await post('/rpc', { service: 'greeter', method: 'Say.Hello', request: { name: 'x' } });
    const id = String(body.instance_id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.deepEqual(
    [...counts.keys()].sort(),
    greeters.map((greeter) => greeter.instance.id).sort(),
    JSON.stringify(Object.fromEntries(counts)),
  );
});

test('the Authorization header sent to the gateway reaches the service', async (t) => {
  // A service of its own (in this process) that answers with the header it got;
  // behind its own gateway, so it is the only one serving greeter.v1.Say there.
  const registry = new MemoryRegistry();
  const echo = new Service({ name: 'echo', registry, deregisterDelayMs: 0 }).handle(Say, {
    hello: (_request, context) => ({ greeting: context.requestHeader.get('authorization') ?? '(none)' }),
  });
  await echo.start();
  t.after(() => echo.stop());
  const echoGateway = new Gateway({ registry, port: 0 });
  const { port } = await echoGateway.start();
  t.after(() => echoGateway.stop(1_000));

  const authorization = 'Bearer token-123';
  const call = async (path: string, body: unknown, headers: Record<string, string>) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return ((await response.json()) as { greeting?: string }).greeting;
  };
  const rpc = { service: 'echo', method: 'Say.Hello', request: {} };
  assert.equal(await call('/rpc', rpc, { Authorization: authorization }), authorization);
  assert.equal(await call('/echo/say/hello', {}, { authorization }), authorization);
  assert.equal(await call('/greeter.v1.Say/Hello', {}, { AUTHORIZATION: authorization }), authorization);
  const grpc = createClient(Say, grpcTransport(`http://127.0.0.1:${port}`, t.after.bind(t)));
  assert.equal((await grpc.hello({}, { headers: { authorization } })).greeting, authorization);
});

test('Connect JSON straight to an instance, and through the gateway', async () => {
  for (const base of [greeters[0].url, gatewayUrl]) {
    const response = await fetch(`${base}/greeter.v1.Say/Hello`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"Cy"}',
    });
    assert.equal(response.status, 200, base);
    assert.equal(((await response.json()) as { greeting: string }).greeting, 'Hello Cy', base);
  }
  // The typed Connect client (binary protobuf) through the gateway.
  const client = createClient(Say, createConnectTransport({ baseUrl: gatewayUrl, httpVersion: '1.1' }));
  assert.equal((await client.hello({ name: 'Dee' })).greeting, 'Hello Dee');
});

test('gzip-compressed Connect requests, straight to an instance and through the gateway', async () => {
  for (const base of [greeters[0].url, gatewayUrl]) {
    for (const useBinaryFormat of [false, true]) {
      const transport = createConnectTransport({
        baseUrl: base,
        httpVersion: '1.1',
        useBinaryFormat,
        sendCompression: compressionGzip,
        compressMinBytes: 0,
      });
      const response = await createClient(Say, transport).hello({ name: 'Gus' });
      assert.equal(response.greeting, 'Hello Gus', `${base} binary=${useBinaryFormat}`);
    }
  }
});

test('a gRPC client, straight to an instance and through the gateway', async (t) => {
  for (const base of [greeters[1].url, gatewayUrl]) {
    const client = createClient(Say, grpcTransport(base, t.after.bind(t)));
    const response = await client.hello({ name: 'Eve' });
    assert.equal(response.greeting, 'Hello Eve', base);
    assert.match(response.instanceId, /^greeter-/);
  }
});

test('a gRPC-Web client, straight to an instance and through the gateway', async () => {
  for (const base of [greeters[0].url, gatewayUrl]) {
    const client = createClient(Say, createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1' }));
    assert.equal((await client.hello({ name: 'Fay' })).greeting, 'Hello Fay', base);
  }
});

test('grpc.health.v1 Check over gRPC', async (t) => {
  const health = createClient(Health, grpcTransport(greeters[0].url, t.after.bind(t)));
  for (const service of ['', 'greeter', 'examples.greeter', 'greeter.v1.Say']) {
    const { status } = await health.check({ service });
    assert.equal(status, HealthCheckResponse_ServingStatus.SERVING, service);
  }
  await assert.rejects(
    health.check({ service: 'nope' }),
    (error: unknown) => error instanceof ConnectError && error.code === Code.NotFound,
  );
});

test('the gateway and the services answer /healthz, /readyz and /metrics', async () => {
  await post('/rpc', { service: 'greeter', method: 'Say.Hello', request: {} });
  for (const base of [gatewayUrl, greeters[0].url]) {
    const healthz = await fetch(`${base}/healthz`);
    assert.equal(healthz.status, 200, base);
    assert.equal(((await healthz.json()) as { status: string }).status, 'ok');
    const readyz = await fetch(`${base}/readyz`);
    assert.equal(readyz.status, 200, base);
    await readyz.body?.cancel();
  }
  const readyz = (await (await fetch(`${gatewayUrl}/readyz`)).json()) as {
    services: Array<{ name: string; instances: number }>;
  };
  assert.deepEqual(readyz.services, [{ name: 'greeter', instances: 2 }]);

  // Each side counts the calls by method and code.
  for (const base of [gatewayUrl, greeters[0].url]) {
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const counted = metrics
      .split('\n')
      .filter((line) => line.startsWith('berth_rpc_requests_total{'))
      .filter((line) => /method="[^"]*Say\.Hello"/.test(line) && line.includes('code="ok"'));
    const rpcLines = metrics.split('\n').filter((line) => line.startsWith('berth_rpc_requests_total'));
    assert.ok(
      counted.length > 0 && counted.every((line) => Number(line.split(' ').at(-1)) > 0),
      `${base}/metrics counts no ok Say.Hello call:\n${rpcLines.join('\n')}`,
    );
  }
});

test('GET /_berth/services lists the instances per service', async () => {
  const { services } = (await (await fetch(`${gatewayUrl}/_berth/services`)).json()) as {
    services: Array<{ name: string; instances: Array<{ id: string }> }>;
  };
  const greeter = services.find((service) => service.name === 'greeter');
  assert.deepEqual(
    greeter?.instances.map((instance) => instance.id).sort(),
    greeters.map((process) => process.instance.id).sort(),
  );
});

test('gRPC through the gateway is balanced over live instances; a dead one is ejected after 3 failures', async (t) => {
  const registry = new MemoryRegistry();
  const live = ['a', 'b'].map((name) =>
    new Service({ name: 'greeter', registry, deregisterDelayMs: 0 }).handle(Say, {
      hello: () => ({ greeting: 'hi', instanceId: name }),
    }),
  );
  for (const service of live) {
    await service.start();
    t.after(() => service.stop());
  }
  const deadAddress = await refusingAddress();
  await registry.register({
    id: 'greeter-dead',
    name: 'greeter',
    version: '1',
    address: deadAddress,
    protoServices: ['greeter.v1.Say'],
    metadata: {},
  });
  const relay = new Gateway({ registry, port: 0, knownServices: ['greeter'] });
  const { port } = await relay.start();
  t.after(() => relay.stop(1_000));
  const client = createClient(Say, grpcTransport(`http://127.0.0.1:${port}`, t.after.bind(t)));
  const outcomes: string[] = [];
  for (let call = 0; call < 15; call++) {
    try {
      outcomes.push((await client.hello({ name: 'x' })).instanceId);
    } catch (error) {
      assert.equal(ConnectError.from(error).code, Code.Unavailable);
      assert.match(ConnectError.from(error).rawMessage, new RegExp(deadAddress));
      outcomes.push('failed');
    }
  }
  assert.ok(outcomes.filter((outcome) => outcome === 'failed').length <= 3, outcomes.join(' '));
  assert.ok(!outcomes.slice(9).includes('failed'), `ejected by the ninth call: ${outcomes.join(' ')}`);
  assert.deepEqual(new Set(outcomes.slice(9)), new Set(['a', 'b']));
});

test('during a rolling upgrade, a method only the new instances list is served, not refused', async (t) => {
  const registry = new MemoryRegistry();
  // An old instance, first in the registry, from before Say.Hello existed (and already gone).
  await registry.register({
    id: 'greeter-old',
    name: 'greeter',
    version: '1',
    address: await refusingAddress(),
    protoServices: ['greeter.v1.Say'],
    endpoints: ['Say.Wave'],
    metadata: {},
  });
  const current = new Service({ name: 'greeter', registry, deregisterDelayMs: 0 }).handle(Say, {
    hello: (request) => ({ greeting: `Hello ${request.name}` }),
  });
  await current.start();
  t.after(() => current.stop());
  const upgrading = new Gateway({ registry, port: 0, knownServices: ['greeter'] });
  const { port } = await upgrading.start();
  t.after(() => upgrading.stop(1_000));
  for (let call = 0; call < 4; call++) {
    const response = await fetch(`http://127.0.0.1:${port}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'greeter', method: 'Say.Hello', request: { name: 'Lu' } }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(((await response.json()) as { greeting: string }).greeting, 'Hello Lu');
  }
  const unknown = await fetch(`http://127.0.0.1:${port}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'greeter', method: 'Say.Nothing', request: {} }),
  });
  assert.equal(unknown.status, 404, 'a method no instance lists is still refused');
});
