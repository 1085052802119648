/** What `berth run` would start, and with which environment: no processes. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSystemFile } from '../../src/config/system-file.ts';
import { type Plan, type PlannedProcess, planSystem, selectServices } from '../../src/runner/plan.ts';

const system = loadSystemFile(join(import.meta.dirname, 'fixtures'));
const dataDir = '/data';
const processOf = (plan: Plan, instance: string): PlannedProcess =>
  plan.units.flatMap((unit) => unit.processes).find((process) => process.instance === instance)!;

test('--only adds what the named services depend on; an unknown name is an error naming the known ones', () => {
  assert.deepEqual(selectServices(system, ['front']), ['back', 'front']);
  assert.deepEqual(selectServices(system, []), ['back', 'front', 'store']);
  assert.throws(
    () => selectServices(system, ['nope']),
    /unknown service "nope"; fixture has: back, front, store/,
  );
});

test('embedded: PGlite only for services that use postgres; the gateway always', async () => {
  const plan = await planSystem({ system, env: { PATH: '/bin' }, dataDir, only: ['store'] });
  assert.deepEqual(plan.selected, ['postgres', 'gateway', 'store']);
  assert.equal(plan.database, 'embedded');
  const store = processOf(plan, 'store-1');
  assert.match(
    store.env.DATABASE_URL!,
    new RegExp(`^postgres://postgres:[\\w-]{32}@127\\.0\\.0\\.1:${plan.pglitePort}/postgres$`),
  );
  assert.equal(store.env.DATABASE_URL, plan.embeddedDatabaseUrl);
  assert.equal(
    processOf(plan, 'postgres').env.BERTH_PGLITE_PASSWORD,
    new URL(plan.embeddedDatabaseUrl!).password,
  );
  assert.equal(processOf(plan, 'back-1').env.DATABASE_URL, undefined);
  assert.deepEqual(plan.units.find((unit) => unit.name === 'store')!.deps, ['postgres']);
  assert.equal(processOf(plan, 'postgres').env.BERTH_PGLITE_DIR, '/data/pglite');
  // Baseline-compiled WebAssembly: TurboFan's ~500 MB of compiler memory never comes (docs/footprint.md).
  assert.deepEqual(processOf(plan, 'postgres').args.slice(0, -1), [
    '--max-semi-space-size=2',
    '--liftoff-only',
  ]);
  assert.equal(
    (await planSystem({ system, env: {}, dataDir, only: ['front'] })).selected.includes('postgres'),
    false,
  );
});

test('every instance gets the wiring; replicas past the first take any free port', async () => {
  const env = { PATH: '/bin', NODE_TEST_CONTEXT: 'child', BERTH_CACHE_DIR: '/cache' };
  const plan = await planSystem({ system, env, dataDir });
  const back2 = processOf(plan, 'back-2');
  assert.equal(back2.env.PATH, '/bin');
  assert.equal(back2.env.NODE_TEST_CONTEXT, undefined);
  assert.equal(back2.env.BERTH_REGISTRY_DIR, '/data/registry');
  assert.equal(back2.env.BERTH_DATA_DIR, dataDir);
  assert.equal(back2.env.BERTH_INSTANCE, 'back-2');
  assert.equal(back2.env.BERTH_SERVICE, 'back');
  assert.equal(back2.env.BERTH_ENV, 'dev');
  assert.equal(back2.env.LOG_FORMAT, 'json');
  assert.equal(back2.env.PORT, '0');
  assert.equal(back2.env.NODE_COMPILE_CACHE, '/cache/node-compile-cache');
  assert.equal(processOf(plan, 'back-1').env.PORT, '0'); // the fixture's port is 0: any free port
  const gateway = processOf(plan, 'gateway').env;
  assert.equal(gateway.BERTH_GATEWAY_PORT, '18080');
  assert.equal(gateway.BERTH_KNOWN_SERVICES, 'back,front,store');
  assert.equal(gateway.BERTH_STATIC_DIR, undefined);
  // A young generation capped at start-up: the only time Node takes the flag (src/service/node-flags.ts).
  for (const instance of ['gateway', 'back-1', 'front-1']) {
    assert.deepEqual(processOf(plan, instance).args.slice(0, -1), ['--max-semi-space-size=2'], instance);
  }
});

test('DATABASE_URL and <SERVICE>_DATABASE_URL replace PGlite; NATS_URL goes to services that use nats', async () => {
  const env = {
    DATABASE_URL: 'postgres://shared@db/x',
    STORE_DATABASE_URL: 'postgres://own@db/store',
    NATS_URL: 'nats://127.0.0.1:4222',
  };
  const plan = await planSystem({ system, env, dataDir });
  assert.equal(plan.database, 'external');
  assert.equal(plan.pglitePort, undefined);
  assert.ok(!plan.units.some((unit) => unit.kind === 'postgres'));
  assert.equal(processOf(plan, 'store-1').env.DATABASE_URL, 'postgres://own@db/store');
  // Neither uses postgres or nats: neither sees them.
  assert.equal(processOf(plan, 'back-1').env.DATABASE_URL, undefined);
  assert.equal(processOf(plan, 'back-1').env.NATS_URL, undefined);
  assert.equal(processOf(plan, 'gateway').env.DATABASE_URL, undefined);
});

test('the shippy system file: every service uses postgres; user and email get NATS_URL', async () => {
  const shippy = loadSystemFile(join(import.meta.dirname, '../../examples/shippy'), { env: 'staging' });
  const plan = await planSystem({ system: shippy, env: { NATS_URL: 'nats://n:4222' }, dataDir });
  assert.deepEqual(plan.selected, ['postgres', 'gateway', 'vessel', 'email', 'user', 'consignment']);
  assert.deepEqual(
    plan.units.flatMap((unit) => unit.processes.map((process) => process.instance)),
    ['postgres', 'gateway', 'vessel-1', 'vessel-2', 'email-1', 'user-1', 'consignment-1', 'consignment-2'],
  );
  for (const instance of ['user-1', 'email-1'])
    assert.equal(processOf(plan, instance).env.NATS_URL, 'nats://n:4222');
  assert.equal(processOf(plan, 'vessel-1').env.NATS_URL, undefined);
  assert.deepEqual(plan.units.find((unit) => unit.name === 'consignment')!.deps, [
    'postgres',
    'vessel',
    'user',
  ]);
});
