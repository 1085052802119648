/**
 * The post-deploy bake on the test cluster: a release whose rollout completes
 * and whose new pod then restarts, or goes not ready, while it bakes is rolled
 * back whole (every object reads back as before), and one that stays healthy
 * is deployed. The pods' trouble is written into their status as the kubelet
 * would report it (KWOK runs no containers), once the bake has started, as
 * rollout-failures.test.ts does. The error-rate gate needs pods that serve
 * /metrics: it is unit-tested in src/kube/release-bake.test.ts.
 *
 * deploy() runs in this process so the test can act when its progress says the
 * bake has begun; images are pinned with tags (KWOK never pulls them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { loadSystemFile } from '../../src/config/system-file.ts';
import { type DeployResult, deploy } from '../../src/kube/deploy.ts';
import { createProgress, type Progress } from '../../src/kube/progress.ts';
import { createRelease, imageNames, parseTagOverrides } from '../../src/kube/release.ts';
import { readHistory } from '../../src/kube/release-history.ts';
import { imageFor } from '../../src/kube/workload.ts';
import { berth, type SystemYaml, shippyNamespace, show } from './cluster.ts';
import { assertSameObjects, systemObjects } from './system-objects.ts';

const kube = shippyNamespace('berth-bake', { volumes: true, copy: { registry: 'registry.test/shippy' } });
const { namespace } = kube;
const lines = createProgress(process.stdout, false);

/**
 * Deploys the `test` environment with every image at r1 but `tags`, baking
 * `bakeSeconds`; `duringBake` runs once vessel's bake has begun.
 */
async function deployBaking(
  tags: string[],
  bakeSeconds: number,
  duringBake?: () => Promise<void>,
): Promise<DeployResult> {
  const system = loadSystemFile(kube.shippy.file, { env: 'test' });
  const release = createRelease(system, parseTagOverrides(['r1', ...tags], imageNames(system)));
  let acting: Promise<void> | undefined;
  // Its first progress line comes after its first look at the pods (the baseline of their restarts).
  const progress: Progress = {
    update(item, state) {
      lines.update(item, state);
      if (item === 'vessel (bake)') acting ??= duringBake?.();
    },
    note: (line) => lines.note(line),
    end: () => lines.end(),
  };
  const result = await deploy({
    client: kube.client,
    release,
    progress,
    timeoutMs: 60_000,
    progressDeadlineSeconds: 8,
    bakeSeconds,
  });
  await acting;
  return result;
}

/** The ready pod of vessel's `tag`: the one this release's rollout made. */
async function newVesselPod(tag: string): Promise<V1Pod> {
  const system = loadSystemFile(kube.shippy.file, { env: 'test' });
  const image = imageFor(system, 'vessel', tag);
  const pods = await kube.client.list<V1Pod>('v1', 'Pod', namespace, 'app.kubernetes.io/name=vessel');
  const pod = pods.items.find(
    (candidate) => candidate.spec?.containers[0]?.image === image && !candidate.metadata?.deletionTimestamp,
  );
  assert.ok(pod, `a pod of ${image}`);
  return pod;
}

/** Writes `status` into a pod's status, as its kubelet would. */
async function patchPodStatus(pod: V1Pod, status: Partial<NonNullable<V1Pod['status']>>): Promise<void> {
  await kube.client.request(
    'PATCH',
    `${kube.client.path('v1', 'Pod', namespace, pod.metadata!.name!)}/status`,
    { status },
    'application/merge-patch+json',
  );
}

let releaseN: Map<string, unknown>;

test('a release that stays healthy through its bake is deployed, with the bake in the result', async () => {
  assert.equal((await deployBaking([], 0)).outcome, 'deployed');
  const result = await deployBaking(['vessel=r2'], 2);
  assert.equal(result.outcome, 'deployed', result.reason);
  assert.deepEqual(
    result.bake?.services.map(({ name, result, seconds }) => [name, result, seconds]),
    [['vessel', 'healthy', 2]],
  );
  releaseN = await systemObjects(kube.client, namespace);
});

test('a release whose new pod restarts during the bake is rolled back whole', async () => {
  // Release N+1 changes vessel's config (its ConfigMap) and image; its pod crashes once it bakes.
  kube.shippy.edit((system: SystemYaml) => {
    system.services.vessel = { ...system.services.vessel, env: { LOG_LEVEL: 'debug' } };
  });
  const result = await deployBaking(['vessel=r3'], 120, async () => {
    const pod = await newVesselPod('r3');
    const container = pod.status!.containerStatuses![0]!;
    await patchPodStatus(pod, {
      containerStatuses: [
        {
          ...container,
          restartCount: (container.restartCount ?? 0) + 1,
          lastState: { terminated: { exitCode: 1, reason: 'Error' } },
        },
      ],
    });
  });
  assert.equal(result.outcome, 'rolled-back', result.reason);
  assert.match(
    result.reason ?? '',
    /^bake: vessel: pod vessel-\S+ restarted during the bake \(Error; 1 time\)$/,
  );
  assert.equal(result.bake?.services[0]?.result, 'degraded');
  assert.ok(result.restored.some(({ kind, name }) => kind === 'ConfigMap' && name === 'vessel-config'));
  assertSameObjects(await systemObjects(kube.client, namespace), releaseN);
});

test('a release whose new pod goes not ready during the bake is rolled back whole', async () => {
  const result = await deployBaking(['vessel=r4'], 120, async () => {
    const pod = await newVesselPod('r4');
    const conditions = (pod.status?.conditions ?? []).map((condition) =>
      condition.type === 'Ready'
        ? {
            ...condition,
            status: 'False',
            message: 'readiness probe failed: HTTP probe failed with statuscode: 503',
          }
        : condition,
    );
    await patchPodStatus(pod, { conditions });
  });
  assert.equal(result.outcome, 'rolled-back', result.reason);
  assert.match(result.reason ?? '', /^bake: vessel: pod vessel-\S+ is not ready/);
  assertSameObjects(await systemObjects(kube.client, namespace), releaseN);
  const history = await readHistory(kube.client, 'shippy', namespace);
  assert.deepEqual(
    history.map((entry) => entry.ok),
    [true, true, false, false],
  );
});

test('berth deploy --bake overrides berth.yaml and --output json reports the bake', async () => {
  kube.shippy.edit((system: SystemYaml) => {
    system.environments.test!.rollout = { minReadySeconds: 0, bakeSeconds: 600 };
  });
  const result = await berth(kube.cluster, [
    ...['deploy', '-f', kube.shippy.dir, '--env', 'test', '--progress-deadline', '8'],
    ...['--tag', 'r1', '--tag', 'vessel=r5', '--bake', '1', '--output', 'json'],
  ]);
  assert.equal(result.code, 0, show(result));
  const report = JSON.parse(result.stdout) as { outcome: string; bake: DeployResult['bake'] };
  assert.equal(report.outcome, 'deployed');
  assert.deepEqual(
    report.bake?.services.map(({ name, result, seconds, requests }) => [name, result, seconds, requests]),
    [['vessel', 'healthy', 1, null]],
  );
  assert.match(result.stderr, /\nbaking vessel \(1 s\): /);
});
