/**
 * Stopping and starting the runner's own units, the gateway and the embedded
 * postgres, by name as services are (Runner.stopUnits / startUnits): through
 * `berth stop|start` and the dashboard's /api/resources, on the fixture's `store`
 * (which keeps each hello in postgres). Stopping postgres leaves `store` to itself,
 * as `docker compose stop` leaves dependants: its calls fail, and if it exits (its
 * pool's idle connections end) it is restarted with backoff until postgres is back.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { gatewaySees } from '../../src/runner/readiness.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { BerthRun, berth, rpc } from './berth-run.ts';

const hello = { service: 'store', method: 'Say.Hello', request: { name: 'unit' } };

describe('berth run: the gateway and postgres stop and start by name', () => {
  let run: BerthRun;
  const cleanup = fileCleanup();
  const env = () => ({ BERTH_DATA_DIR: run.dataDir });
  const statusOf = (instance: string) => run.state().processes.find((p) => p.instance === instance)!.status;
  /** POST /api/resources/<action> on the run's dashboard. */
  const resources = async (action: string, names: readonly string[]) => {
    const dashboard = run.state().dashboard!;
    const response = await fetch(`${dashboard.url}/api/resources/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dashboard.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ services: names }),
    });
    return { status: response.status, body: (await response.json()) as { error?: string } };
  };

  /** Until store-1 (restarted with backoff while postgres was down) is ready and routed again. */
  const storeRouted = () =>
    waitFor(() => gatewaySees(`127.0.0.1:${run.port}`, new Map([['store', 1]])), {
      timeoutMs: 60_000,
      what: 'the gateway to route to store again',
    });

  before(async () => {
    // NATS_URL empty: the direct broker, whatever the environment of the tests says.
    run = await BerthRun.start({
      target: 'test/runner/fixtures',
      args: ['--only', 'store'],
      env: { NATS_URL: '' },
      cleanup,
    });
  });

  test('postgres stops, its service is left to itself (calls fail), and starts again', async () => {
    assert.equal((await rpc(run.gateway, hello)).status, 200);
    const stopped = await berth(['stop', 'postgres'], env());
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(statusOf('postgres'), 'stopped');
    assert.notEqual(statusOf('store-1'), 'stopped', 'not stopped with it');
    assert.notEqual((await rpc(run.gateway, hello)).status, 200);
    const started = await berth(['start', 'postgres'], env());
    assert.equal(started.code, 0, started.stderr);
    assert.equal(statusOf('postgres'), 'ready');
    await storeRouted();
    // The rows written before the stop are still there: the same database, started again.
    const again = await rpc(run.gateway, hello);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.match(String(again.body.greeting), /^store: hello unit #2$/);
  });

  test('the gateway stops (nothing answers) and starts, routing again once ready', async () => {
    const stopped = await berth(['stop', 'gateway'], env());
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(statusOf('gateway'), 'stopped');
    await assert.rejects(rpc(run.gateway, hello));
    const started = await berth(['start', 'gateway'], env());
    assert.equal(started.code, 0, started.stderr);
    assert.equal(statusOf('gateway'), 'ready');
    assert.equal((await rpc(run.gateway, hello)).status, 200);
  });

  test('the dashboard restarts the gateway and postgres; each answers again', async () => {
    const pids = () => run.state().processes.flatMap((p) => (p.kind === 'service' ? [] : [p.pid]));
    const before = pids();
    assert.deepEqual(await resources('restart', ['gateway', 'postgres']), {
      status: 200,
      body: { ok: true },
    });
    assert.equal(statusOf('gateway'), 'ready');
    assert.equal(statusOf('postgres'), 'ready');
    assert.ok(
      pids().every((pid, i) => pid !== before[i]),
      'new processes',
    );
    await storeRouted();
    assert.equal((await rpc(run.gateway, hello)).status, 200);
  });

  test('an unknown name and the broker are 400s saying why', async () => {
    const unknown = await resources('stop', ['nope']);
    assert.equal(unknown.status, 400);
    assert.match(
      unknown.body.error!,
      /unknown service "nope"; fixture has: back, front, store, .*gateway, postgres/,
    );
    const broker = await resources('restart', ['broker']);
    assert.equal(broker.status, 400);
    assert.match(broker.body.error!, /^broker is the direct broker: .*no process to stop/);
    assert.equal(statusOf('gateway'), 'ready');
  });
});
