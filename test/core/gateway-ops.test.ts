/**
 * The gateway's ops endpoints: with an ops port, /metrics and /_berth/* are
 * served there only (the public port answers 404, even with a single-page app
 * that answers index.html for every other path); without one they stay public
 * for the UI's system page. Either way /_berth/services asks each instance's
 * /readyz once for any number of concurrent GETs, at its ops port when it has one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.ts';
import { gatewayOptionsFrom } from '../../src/gateway/main.ts';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { opsPortMetadataKey } from '../../src/registry/registry.ts';
import type { Cleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { listenFake, registerFake } from './fake-http-instance.ts';

async function startGateway(cleanup: Cleanup, options: Partial<GatewayOptions> = {}) {
  const registry = new MemoryRegistry();
  const gateway = new Gateway({ registry, port: 0, ...options });
  await gateway.start();
  cleanup(() => gateway.stop(1_000));
  return { registry, gateway, url: `http://127.0.0.1:${gateway.address.port}` };
}

test('with an ops port, /metrics and /_berth/services are served there and are a 404 on the public port', async (t) => {
  const cleanup: Cleanup = (fn) => t.after(fn);
  const staticDir = await mkdtemp(join(tmpdir(), 'berth-test-ui-'));
  t.after(() => rm(staticDir, { recursive: true, force: true }));
  await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>app</title>');
  const { gateway, url } = await startGateway(cleanup, { opsPort: 0, staticDir, knownServices: ['vessel'] });
  const ops = gateway.opsAddress;
  assert.ok(ops, 'an ops address');
  assert.notEqual(ops.port, gateway.address.port);
  const opsUrl = `http://127.0.0.1:${ops.port}`;

  for (const path of ['/metrics', '/_berth/services', '/_berth/anything']) {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { id: string; detail: string };
    assert.equal(response.status, 404, path);
    assert.deepEqual(body.id, 'gateway');
    assert.equal(body.detail, `no route for GET ${path}`);
  }
  const metrics = await fetch(`${opsUrl}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^# HELP /m);
  const services = await fetch(`${opsUrl}/_berth/services`);
  assert.equal(services.status, 200);
  assert.deepEqual(await services.json(), { services: [{ name: 'vessel', instances: [] }] });

  // Probes and load balancers: /healthz and /readyz answer on both ports.
  for (const base of [url, opsUrl]) {
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 200, `${base}${path}`);
      await response.body?.cancel();
    }
  }
  // The ops port serves nothing else: no calls, no files.
  assert.equal((await fetch(`${opsUrl}/`)).status, 404);
  const post = await fetch(`${opsUrl}/rpc`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(post.status, 404);
  // The public port still serves the app.
  assert.equal(await (await fetch(`${url}/vessels`)).text(), '<!doctype html><title>app</title>');
});

test('without an ops port, /metrics and /_berth/services stay on the public port', async (t) => {
  const { gateway, url } = await startGateway((fn) => t.after(fn));
  assert.equal(gateway.opsAddress, undefined);
  for (const path of ['/metrics', '/_berth/services']) {
    const response = await fetch(`${url}${path}`);
    assert.equal(response.status, 200, path);
    await response.body?.cancel();
  }
});

/** `count` GETs of `url`, all sent (written to their sockets) before this resolves. */
async function sendConcurrently(
  url: string,
  count: number,
): Promise<Array<Promise<{ status: number; body: string }>>> {
  const sent: Array<Promise<void>> = [];
  const answers = Array.from({ length: count }, () => {
    let written!: () => void;
    sent.push(new Promise((resolve) => (written = resolve)));
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(written);
    });
  });
  await Promise.all(sent);
  return answers;
}

test('20 concurrent GET /_berth/services ask each instance for /readyz once, at its ops port when it registered one', async (t) => {
  const cleanup: Cleanup = (fn) => t.after(fn);
  const { registry, gateway, url } = await startGateway(cleanup);
  // Probes are held until every GET has been sent, so all 20 arrive while one round is in flight.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const readyz = (res: ServerResponse) =>
    void released.then(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ready":true}');
    });
  const plain = await registerFake(registry, cleanup, { name: 'vessel' });
  plain.answer = (_received, res) => readyz(res);
  const probedAtOpsPort: string[] = [];
  const opsAddress = await listenFake(cleanup, (received, res) => {
    probedAtOpsPort.push(received.path);
    readyz(res);
  });
  const withOpsPort = await registerFake(registry, cleanup, {
    name: 'user',
    metadata: { [opsPortMetadataKey]: opsAddress.split(':')[1] },
  });
  await waitFor(() => gateway.cache.all().length === 2, { what: 'the gateway to see both instances' });

  const answers = await sendConcurrently(`${url}/_berth/services`, 20);
  await waitFor(() => plain.received.length + probedAtOpsPort.length === 2, { what: 'the probe round' });
  release();
  const bodies = await Promise.all(answers);
  assert.deepEqual(
    bodies.map(({ status }) => status),
    Array(20).fill(200),
  );
  assert.deepEqual(
    plain.received.map(({ path }) => path),
    ['/readyz'],
  );
  assert.deepEqual(probedAtOpsPort, ['/readyz']);
  assert.deepEqual(withOpsPort.received, [], 'not probed at its service address');
  const described = JSON.parse(bodies[0].body) as {
    services: Array<{ name: string; instances: Array<{ id: string; ready: boolean }> }>;
  };
  assert.deepEqual(
    described.services.map(({ name, instances }) => ({ name, ready: instances.map((each) => each.ready) })),
    [
      { name: 'user', ready: [true] },
      { name: 'vessel', ready: [true] },
    ],
  );
  assert.ok(bodies.every(({ body }) => body === bodies[0].body));

  // A registry change is shown at once, with a new round.
  await registry.deregister(withOpsPort.instance.id);
  await waitFor(() => gateway.cache.all().length === 1, { what: 'the gateway to drop user' });
  const after = (await (await fetch(`${url}/_berth/services`)).json()) as typeof described;
  assert.deepEqual(
    after.services.map(({ name }) => name),
    ['vessel'],
  );
  assert.equal(plain.received.length, 2);
});

test('BERTH_OPS_PORT and --ops-port set the ops port; a bad one is refused by name', () => {
  const registry = new MemoryRegistry();
  const from = (env: Record<string, string>, flags: Record<string, string> = {}) =>
    gatewayOptionsFrom({ env, flags, cwd: '/', registry });
  assert.equal(from({ BERTH_OPS_PORT: '9090' }).opsPort, 9090);
  assert.equal(from({ BERTH_OPS_PORT: '9090' }, { 'ops-port': '9091' }).opsPort, 9091);
  assert.equal(from({}).opsPort, undefined);
  assert.throws(() => from({ BERTH_OPS_PORT: 'internal' }), {
    message: 'BERTH_OPS_PORT: expected a port number (0-65535), got "internal"',
  });
});
