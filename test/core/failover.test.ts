/**
 * Replicas dying under load. A SIGKILLed replica costs at most the calls it had in
 * flight and is forgotten within 2 s; once it is forgotten no call fails. A
 * SIGTERMed replica costs nothing: it leaves the registry, drains, and exits 0.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { before, test } from 'node:test';
import { Gateway } from '../../src/gateway/gateway.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { startLoad } from '../support/load.ts';
import { type ServiceProcess, startGreeter, tempRegistry } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const after = fileCleanup();
let gateway: Gateway;
let greeters: ServiceProcess[];

before(async () => {
  const { dir, registry } = await tempRegistry(after);
  greeters = await Promise.all([1, 2, 3].map(() => startGreeter(dir, after)));
  gateway = new Gateway({ registry, port: 0, knownServices: ['greeter'] });
  await gateway.start();
  after(() => gateway.stop(1_000));
});

function greeterLoad() {
  return startLoad({
    url: `http://127.0.0.1:${gateway.address.port}/rpc`,
    body: JSON.stringify({ service: 'greeter', method: 'Say.Hello', request: { name: 'load' } }),
    concurrency: 20,
    maxDurationMs: 30_000,
  });
}

function known(greeter: ServiceProcess): boolean {
  return gateway.cache.instances('greeter').some((instance) => instance.id === greeter.instance.id);
}

function describeFailures(failures: ReturnType<ReturnType<typeof greeterLoad>['failures']>): string {
  return failures.map((failure) => `${failure.status} ${failure.body.slice(0, 160)}`).join('\n');
}

test('SIGKILL under load: forgotten within 2 s, a few calls fail, none after', async (t) => {
  const victim = greeters[0];
  const load = greeterLoad();
  t.after(() => load.stop());
  await load.answered(100);

  const killedAt = performance.now();
  victim.child.kill('SIGKILL');
  // The requirement itself: the gateway's view of the registry drops it within 2 s.
  await waitFor(() => !known(victim), {
    timeoutMs: 2_000,
    intervalMs: 5,
    what: 'the killed replica to be forgotten',
  });
  const forgottenAt = performance.now();
  // Calls sent from a short settle after that point on must all succeed.
  const settledAt = forgottenAt + 250;
  await waitFor(() => load.outcomes.filter((outcome) => outcome.start > settledAt).length >= 100, {
    timeoutMs: 10_000,
    what: '100 calls after the settle',
  });
  await load.stop();

  const failed = load.failures();
  t.diagnostic(
    `forgotten after ${Math.round(forgottenAt - killedAt)} ms; ${failed.length} of ${load.outcomes.length} calls failed`,
  );
  assert.ok(failed.length <= 10, `${failed.length} calls failed:\n${describeFailures(failed)}`);
  assert.deepEqual(
    describeFailures(load.failures(settledAt)),
    '',
    'calls failed after the replica was forgotten',
  );
  assert.equal((await victim.exited).signal, 'SIGKILL');
});

test('SIGTERM under load: no call fails and the replica exits 0', async (t) => {
  const victim = greeters[1];
  const load = greeterLoad();
  t.after(() => load.stop());
  await load.answered(100);

  const exit = await victim.stop('SIGTERM');
  await waitFor(() => !known(victim), { timeoutMs: 2_000, what: 'the stopped replica to be forgotten' });
  await load.answered(100);
  await load.stop();

  const failed = load.failures();
  t.diagnostic(`${failed.length} of ${load.outcomes.length} calls failed`);
  assert.deepEqual(exit, { code: 0, signal: null }, victim.output);
  assert.equal(failed.length, 0, describeFailures(failed));
});
