/**
 * `berth call`, `berth list` and `berth health` against real processes: two
 * greeter processes, plus an "echo" service in this process whose readiness the
 * test switches off, and a registered instance whose port nobody listens on.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { before, test } from 'node:test';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { Service } from '../../src/service/service.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { startGreeter, tempRegistry } from '../support/processes.ts';
import { runCli } from './run-cli.ts';

/** A port that was free a moment ago and has no listener now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let dir: string;
let databaseUp = true;
const cli = (...args: string[]) => runCli(dir, args);
const cleanup = fileCleanup();

before(async () => {
  const temp = await tempRegistry(cleanup);
  dir = temp.dir;
  const echo = new Service({ name: 'echo', registry: temp.registry, deregisterDelayMs: 0 })
    .handle(Say, {
      // Answers with the metadata it got, to show that -H travels.
      hello: (_request, context) => ({ greeting: context.requestHeader.get('authorization') ?? '' }),
    })
    .checkReady('database', async () => {
      if (!databaseUp) throw new Error('connection refused');
    });
  cleanup(() => echo.stop());
  await Promise.all([startGreeter(dir, cleanup), startGreeter(dir, cleanup), echo.start()]);
  await temp.registry.register({
    id: 'ghost-1',
    name: 'ghost',
    version: '0.1.0',
    address: `127.0.0.1:${await closedPort()}`,
    protoServices: ['ghost.v1.Ghost'],
    metadata: {},
  });
});

test('call prints the pretty-printed response', async () => {
  const result = await cli('call', 'greeter', 'Say.Hello', '{"name": "Ann"}');
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).greeting, 'Hello Ann');
  assert.match(result.stdout, /^\{\n {2}"greeting": "Hello Ann",\n/);
});

test('call sends -H headers as metadata', async () => {
  const result = await cli('call', 'echo', 'Say.Hello', '{}', '-H', 'Authorization: Bearer x');
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).greeting, 'Bearer x');
});

test('call of an unknown service names the known ones', async () => {
  const result = await cli('call', 'nope', 'Say.Hello', '{}');
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  const error = JSON.parse(result.stderr);
  assert.deepEqual(
    { id: error.id, code: error.code, status: error.status },
    {
      id: 'nope',
      code: 404,
      status: 'not_found',
    },
  );
  assert.match(error.detail, /unknown service "nope"; known services: echo, ghost, greeter/);
});

test('call of an unknown method lists the endpoints', async () => {
  const result = await cli('call', 'greeter', 'Say.Goodbye', '{}');
  assert.equal(result.code, 1);
  const error = JSON.parse(result.stderr);
  assert.equal(error.code, 404);
  assert.match(error.detail, /service "greeter" has no method "Say.Goodbye"; it serves Say.Hello/);
});

test('call with a request that is not JSON says so', async () => {
  const result = await cli('call', 'greeter', 'Say.Hello', '{name: Ann}');
  assert.equal(result.code, 1);
  const error = JSON.parse(result.stderr);
  assert.equal(error.status, 'invalid_argument');
  assert.match(error.detail, /the request is not valid JSON: .*position 1/);
});

test('list shows every instance with its readiness', async () => {
  const table = await cli('list');
  assert.equal(table.code, 0, table.stderr);
  const rows = table.stdout.trimEnd().split('\n');
  assert.match(rows[0], /^SERVICE +INSTANCE +ADDRESS +VERSION +HEALTH$/);
  const greeters = rows.filter((row) => row.startsWith('greeter '));
  assert.equal(greeters.length, 2);
  for (const row of greeters) assert.match(row, /^greeter +greeter-\w+ +127\.0\.0\.1:\d+ +1\.0\.0 +ready$/);
  assert.match(table.stdout, /\nghost +ghost-1 +127\.0\.0\.1:\d+ +0\.1\.0 +unreachable\n/);

  const json = await cli('list', '--json');
  assert.equal(json.code, 0, json.stderr);
  const { services } = JSON.parse(json.stdout) as {
    services: Array<{ name: string; instances: Array<{ health: string }> }>;
  };
  assert.deepEqual(
    services.map((service) => [service.name, service.instances.map((instance) => instance.health)]),
    [
      ['echo', ['ready']],
      ['ghost', ['unreachable']],
      ['greeter', ['ready', 'ready']],
    ],
  );
});

test('health exits 0 when every instance asked about is ready, 1 otherwise', async () => {
  const greeter = await cli('health', 'greeter');
  assert.equal(greeter.code, 0, greeter.stdout + greeter.stderr);
  assert.match(greeter.stdout, /2 of 2 instances ready/);

  databaseUp = false;
  const echo = await cli('health', 'echo');
  assert.equal(echo.code, 1);
  assert.match(
    echo.stdout,
    /\necho +echo-\w+ +127\.0\.0\.1:\d+ +ok +not ready +database: connection refused\n/,
  );

  const all = await cli('health');
  assert.equal(all.code, 1);
  assert.match(
    all.stdout,
    /\nghost +ghost-1 +127\.0\.0\.1:\d+ +unreachable +unreachable +connection refused\n/,
  );
  assert.match(all.stdout, /2 of 4 instances ready/);
});
