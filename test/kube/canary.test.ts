/**
 * Canaries next to a deployed shippy, where they meet the rest of the release:
 * the stable PodDisruptionBudget (a canary that never becomes ready must not
 * block a drain), a promotion whose rollout fails (the stable Deployment goes
 * back, the canary stays), and the release history (promote and abort are in
 * it). Promote and abort as such are in operate.test.ts; the error-rate gate on
 * real pods in test/pods/canary.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { readHistory } from '../../src/kube/release-history.ts';
import { revisionOf, rolloutState } from '../../src/kube/rollout.ts';
import { waitFor } from '../support/wait.ts';
import { berth, type ServiceYaml, shippyNamespace, show } from './cluster.ts';

const registry = 'registry.test/shippy';

const kube = shippyNamespace('berth-canary', {
  volumes: true,
  copy: { registry },
  async setup() {
    const deployed = await berth(kube.cluster, kube.pinnedDeploy());
    assert.equal(deployed.code, 0, show(deployed));
  },
});
const { namespace } = kube;

/** The stable pods of `service`: canary pods carry `berth.dev/track`, stable ones no track label. */
async function stablePods(service: string): Promise<V1Pod[]> {
  const selector = `app.kubernetes.io/name=${service},!berth.dev/track`;
  return (await kube.client.list<V1Pod>('v1', 'Pod', namespace, selector)).items.filter(
    (pod) => !pod.metadata?.deletionTimestamp,
  );
}

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ===
  true;

/** Until `service` has exactly `count` stable pods, all ready and running `tag`. */
function waitForStable(service: string, tag: string, count: number) {
  const image = `${registry}/shippy-${service}:${tag}`;
  return waitFor(
    async () => {
      const pods = await stablePods(service);
      return (
        pods.length === count && pods.every((pod) => isReady(pod) && pod.spec!.containers[0]!.image === image)
      );
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `${count} ready stable ${service} pods of ${tag}` },
  );
}

function deploymentNamed(name: string): Promise<V1Deployment | undefined> {
  return kube.client.get<V1Deployment>('apps/v1', 'Deployment', namespace, name);
}

test('a canary that never becomes ready is not counted by the stable budget: a drain can still evict a stable pod', async () => {
  const started = await berth(kube.cluster, kube.pinnedCanary('user', 25, 'never-ready-r3'));
  assert.equal(started.code, 1, show(started));
  const canaryPods = await kube.client.list<V1Pod>(
    'v1',
    'Pod',
    namespace,
    'app.kubernetes.io/name=user,berth.dev/track=canary',
  );
  assert.equal(canaryPods.items.length, 1);
  assert.ok(!isReady(canaryPods.items[0]!), 'the canary pod is not ready');

  // Counting the canary, the budget would expect 4 pods with 3 healthy and allow no disruption.
  await waitFor(
    async () => {
      const budget = await kube.client.get<V1PodDisruptionBudget>(
        'policy/v1',
        'PodDisruptionBudget',
        namespace,
        'user',
      );
      const status = budget?.status;
      return (
        status?.expectedPods === 3 &&
        status.currentHealthy === 3 &&
        status.disruptionsAllowed === 1 &&
        JSON.stringify(status)
      );
    },
    { timeoutMs: 30_000, intervalMs: 200, what: 'the user budget to count its three stable pods only' },
  );
  const [victim] = await stablePods('user');
  assert.equal(await kube.client.evict(namespace, victim!.metadata!.name!), 'evicted');
  await waitForStable('user', 'r1', 3);

  const aborted = await berth(kube.cluster, ['canary', 'abort', 'user', ...kube.target(), '--tag', 'r1']);
  assert.equal(aborted.code, 0, show(aborted));
  const last = (await readHistory(kube.client, 'shippy', namespace)).at(-1)!;
  assert.deepEqual(
    [last.deploy, last.action, last.canary, last.ok, last.tags.user],
    [2, 'canary-abort', { service: 'user', tag: 'never-ready-r3' }, true, 'r1'],
  );
});

test('a promotion whose rollout fails puts the stable Deployment back and keeps the canary; promoting again after the fix works; both are in the history', async () => {
  const started = await berth(kube.cluster, kube.pinnedCanary('vessel', 25, 'r2'));
  assert.equal(started.code, 0, show(started));
  const before = (await deploymentNamed('vessel'))!;

  // berth.yaml changed meanwhile so that the stable pods of the promotion cannot be
  // scheduled: the canary (started before) is healthy, only the promotion fails.
  let original: ServiceYaml['resources'];
  kube.shippy.edit((system) => {
    original = system.environments.test.services!.vessel!.resources;
    system.environments.test.services!.vessel!.resources = { cpu: '100', limits: { cpu: '100' } };
  });
  const failed = await berth(kube.cluster, ['canary', 'promote', 'vessel', ...kube.target(), '--tag', 'r1']);
  kube.shippy.edit((system) => {
    system.environments.test.services!.vessel!.resources = original;
  });
  assert.equal(failed.code, 1, show(failed));
  assert.match(
    failed.stdout,
    new RegExp(
      `vessel: promotion failed: .+; vessel is back on revision ${revisionOf(before)}, the canary is kept: abort it \\(berth canary abort vessel\\) or fix the cause and promote again\\n`,
    ),
  );
  const after = (await deploymentNamed('vessel'))!;
  assert.deepEqual(after.spec!.template.spec, before.spec!.template.spec, 'the pod template as before');
  assert.equal(after.spec!.replicas, before.spec!.replicas);
  assert.equal(rolloutState(after).phase, 'complete', rolloutState(after).detail);
  await waitForStable('vessel', 'r1', 3);
  const canary = await deploymentNamed('vessel-canary');
  assert.equal(canary?.spec?.template.spec?.containers[0]?.image, `${registry}/shippy-vessel:r2`);

  const promoted = await berth(kube.cluster, [
    'canary',
    'promote',
    'vessel',
    ...kube.target(),
    '--tag',
    'r1',
  ]);
  assert.equal(promoted.code, 0, show(promoted));
  assert.match(promoted.stdout, /vessel: vessel now runs r2/);
  assert.equal(await deploymentNamed('vessel-canary'), undefined);
  await waitForStable('vessel', 'r2', 3);

  const history = await readHistory(kube.client, 'shippy', namespace);
  assert.deepEqual(
    history
      .slice(-2)
      .map((entry) => [entry.action, entry.canary?.service, entry.ok, entry.tags.vessel, entry.tags.user]),
    [
      ['canary-promote', 'vessel', false, 'r2', 'r1'],
      ['canary-promote', 'vessel', true, 'r2', 'r1'],
    ],
  );
  assert.equal(
    history.at(-1)!.revisions.vessel,
    revisionOf(await deploymentNamed('vessel')),
    'the revision the promotion left',
  );
});
