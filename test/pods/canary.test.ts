/**
 * Canary with an error-rate gate, on real pods: shippy deployed onto the real
 * node (staging overlay, vessel ×2), then under a steady load of
 * VesselService.FindAvailable through the gateway,
 *  (a) a canary of vessel whose code fails every other FindAvailable with
 *      Internal is aborted by `berth canary --analysis` itself (exit 1), and the
 *      stable vessel serves alone again;
 *  (b) a healthy canary (vessel's own code under a new tag) is promoted by it.
 * Both measure the split the gateway's client-side weighting gives (--weight 30)
 * from the pods' own counters, which is what the gate reads too.
 *
 * One on.namespace, in order: each test starts from the state the previous one leaves.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { V1Deployment, V1Pod, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { canaryWeightAnnotation } from '../../src/kube/object-meta.ts';
import { berth, type CliResult, show } from '../kube/cluster.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { describeFailures, startLoad } from '../support/load.ts';
import { repoRoot } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';
import {
  buildTimeoutMs,
  deployTimeoutMs,
  gatewayUrl,
  printRun,
  type ShippyOnNode,
  shippyOnNode,
} from './shippy-on-node.ts';

const cleanup = fileCleanup();
let on: ShippyOnNode;
let gateway: string;
const vesselSource = join(repoRoot, 'examples/shippy/vessel');

before(async () => {
  on = await shippyOnNode('canary-pods', cleanup);
});

async function vesselPods(): Promise<V1Pod[]> {
  const pods = await on.client.list<V1Pod>('v1', 'Pod', on.namespace, 'app.kubernetes.io/name=vessel');
  return pods.items.filter((pod) => !pod.metadata?.deletionTimestamp);
}

async function vesselVersion(): Promise<string | undefined> {
  const vessel = await on.client.get<V1Deployment>('apps/v1', 'Deployment', on.namespace, 'vessel');
  return vessel?.metadata?.labels?.['app.kubernetes.io/version'];
}

/** FindAvailable through the gateway, two at a time, as long as the canary runs. */
function findAvailableLoad() {
  return startLoad({
    url: `${gateway}/rpc`,
    body: JSON.stringify({
      service: 'vessel',
      method: 'VesselService.FindAvailable',
      request: { capacity: 1, max_weight: 1 },
    }),
    concurrency: 2,
    maxDurationMs: 10 * 60_000,
  });
}

/** The measured split in the command's output: the canary's share of requests, in percent. */
function splitOf(result: CliResult): number {
  const share = /the canary served ([\d.]+)% of requests/.exec(result.stdout)?.[1];
  assert.ok(share !== undefined, `a measured split in:\n${show(result)}`);
  return Number(share);
}

/**
 * Builds and loads vessel as `release` names it, then `berth canary vessel --weight 30
 * --analysis 20` of it under load; the split the command measured must be near 30 %.
 */
async function canaryUnderLoad(label: string, release: readonly string[]) {
  const built = await berth(on.cluster, ['build', 'vessel', ...release, '--load'], buildTimeoutMs);
  assert.equal(built.code, 0, show(built));
  const load = findAvailableLoad();
  await load.answered(20);
  const canary = await berth(
    on.cluster,
    ['canary', 'vessel', ...release, '--weight', '30', '--analysis', '20', '--timeout', '300'],
    deployTimeoutMs,
  );
  await load.stop();
  const failures = load.failures();
  printRun(
    `${label}: exit ${canary.code}; ${failures.length} of ${load.outcomes.length} requests failed through the gateway`,
    canary,
  );
  const split = splitOf(canary);
  assert.ok(split >= 15 && split <= 45, `the canary served ${split}% of requests, weight 30`);
  return { canary, failures };
}

async function assertCanaryGone(): Promise<void> {
  assert.ok(
    !(await on.client.get('apps/v1', 'Deployment', on.namespace, 'vessel-canary')),
    'no vessel-canary',
  );
  const service = await on.client.get<V1Service>('v1', 'Service', on.namespace, 'vessel');
  assert.equal(service?.metadata?.annotations?.[canaryWeightAnnotation], undefined, 'no canary weight left');
  await waitFor(
    async () => (await vesselPods()).every((pod) => pod.metadata?.labels?.['berth.dev/track'] !== 'canary'),
    { timeoutMs: 120_000, intervalMs: 500, what: 'every canary pod gone' },
  );
}

test('shippy is built, loaded and deployed on the real node', async () => {
  const built = await berth(on.cluster, ['build', ...on.release(), '--load'], buildTimeoutMs);
  assert.equal(built.code, 0, show(built));
  const deployed = await berth(on.cluster, ['deploy', ...on.release(), '--timeout', '540'], deployTimeoutMs);
  assert.equal(deployed.code, 0, show(deployed));
  gateway = await gatewayUrl(on);
});

test('a canary that fails every other FindAvailable is aborted by the error-rate gate', async () => {
  const stableVersion = await vesselVersion();
  /** Beside vessel, so its relative imports (../gen, ../../../src) resolve as vessel's do. */
  const faultySource = join(repoRoot, `examples/shippy/vessel-faulty-${on.runId}`);
  const faulty = on.release(`vessel=faulty-${on.runId}`);
  cpSync(vesselSource, faultySource, { recursive: true });
  cleanup(() => rmSync(faultySource, { recursive: true, force: true }));
  const handlers = join(faultySource, 'handlers.ts');
  const original = readFileSync(handlers, 'utf8');
  const patched = original
    .replace(
      'export function vesselHandlers(',
      'let findAvailableCalls = 0;\n\nexport function vesselHandlers(',
    )
    .replace(
      '    async findAvailable(spec) {\n',
      "    async findAvailable(spec) {\n      findAvailableCalls += 1;\n      if (findAvailableCalls % 2 === 0) fail(Code.Internal, 'faulty canary: every other FindAvailable fails');\n",
    );
  assert.notEqual(patched, original, 'handlers.ts patched');
  assert.match(patched, /findAvailableCalls % 2/);
  writeFileSync(handlers, patched);
  // shippy's settings find a service's configs/ by its folder's name: the copy's own.
  const service = join(faultySource, 'service.ts');
  const serviceSource = readFileSync(service, 'utf8');
  assert.match(serviceSource, /loadServiceConfig\('vessel',/);
  writeFileSync(
    service,
    serviceSource.replace("loadServiceConfig('vessel',", `loadServiceConfig('vessel-faulty-${on.runId}',`),
  );
  on.shippy.edit((system) => {
    system.services.vessel = { ...system.services.vessel, path: faultySource };
  });
  try {
    const { canary, failures } = await canaryUnderLoad('faulty canary', faulty);
    assert.equal(canary.code, 1, show(canary));
    assert.match(canary.stdout, /above --max-error-rate/, show(canary));
    assert.match(canary.stdout, /canary aborted/, show(canary));
    assert.ok(failures.length > 0, 'the faulty canary did fail some requests');
  } finally {
    on.shippy.edit((system) => {
      system.services.vessel = { ...system.services.vessel, path: vesselSource };
    });
  }
  await assertCanaryGone();
  assert.equal(await vesselVersion(), stableVersion, 'the stable vessel is unchanged');
  const versions = new Set(
    (await vesselPods()).map((pod) => pod.metadata?.labels?.['app.kubernetes.io/version']),
  );
  assert.deepEqual([...versions], [stableVersion], 'only the stable release serves');
});

test('a healthy canary is promoted by the error-rate gate', async () => {
  const tag = `canary-${on.runId}`;
  const { canary, failures } = await canaryUnderLoad('healthy canary', on.release(`vessel=${tag}`));
  assert.equal(canary.code, 0, show(canary));
  assert.match(canary.stdout, /promoting/, show(canary));
  assert.equal(await vesselVersion(), tag, 'vessel now runs the canary release');
  await assertCanaryGone();
  assert.equal(failures.length, 0, describeFailures(failures));
});

test('a canary that never becomes ready is not counted by the stable budget: a stable vessel pod can still be evicted', async () => {
  const stableVersion = await vesselVersion();
  // Never loaded into the node: the canary pod cannot start, and stays not ready.
  const canary = await berth(
    on.cluster,
    [
      'canary',
      'vessel',
      ...on.release(`vessel=never-loaded-${on.runId}`),
      '--weight',
      '30',
      '--timeout',
      '60',
    ],
    deployTimeoutMs,
  );
  assert.equal(canary.code, 1, show(canary));
  const canaryPods = (await vesselPods()).filter(
    (pod) => pod.metadata?.labels?.['berth.dev/track'] === 'canary',
  );
  assert.equal(canaryPods.length, 1, 'the failed canary is kept, to abort or fix');
  // Counting the canary, the budget would expect 3 pods with 2 healthy and allow no eviction.
  await waitFor(
    async () => {
      const budget = await on.client.get<V1PodDisruptionBudget>(
        'policy/v1',
        'PodDisruptionBudget',
        on.namespace,
        'vessel',
      );
      const status = budget?.status;
      return status?.expectedPods === 2 && status.currentHealthy === 2 && status.disruptionsAllowed === 1;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: "vessel's budget to count its two stable pods only" },
  );
  const [victim] = (await vesselPods()).filter(
    (pod) => pod.metadata?.labels?.['berth.dev/track'] !== 'canary',
  );
  assert.equal(await on.client.evict(on.namespace, victim!.metadata!.name!), 'evicted');
  // The kubelet stops it, and its ReplicaSet starts another on the node.
  await waitFor(
    async () => {
      const stable = (await vesselPods()).filter(
        (pod) =>
          pod.metadata?.labels?.['berth.dev/track'] !== 'canary' &&
          pod.metadata?.name !== victim!.metadata!.name,
      );
      return (
        stable.length === 2 &&
        stable.every((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      );
    },
    { timeoutMs: 180_000, intervalMs: 1000, what: 'two ready stable vessel pods again' },
  );
  const aborted = await berth(on.cluster, ['canary', 'abort', 'vessel', ...on.release()], deployTimeoutMs);
  assert.equal(aborted.code, 0, show(aborted));
  await assertCanaryGone();
  assert.equal(await vesselVersion(), stableVersion, 'the stable vessel is unchanged');
});
