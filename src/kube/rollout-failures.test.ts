import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CoreV1Event, V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { parseSystemFile } from '../config/system-file.ts';
import { renderManifests } from './manifests.ts';
import {
  limitsOf,
  ProgressTimer,
  podProblemOf,
  progressMarks,
  RefusalEvents,
  refusalOf,
  restartLimitAnnotation,
} from './rollout-failures.ts';

const image = 'shippy-vessel:r2';
const now = Date.parse('2026-12-03T12:00:00Z');
const secondsAgo = (seconds: number) => new Date(now - seconds * 1000);

/** A pod of the new template; `ready`: seconds since it became ready (undefined: not ready). */
function pod(container: Partial<V1ContainerStatus>, ready?: number, podImage = image): V1Pod {
  return {
    metadata: { name: 'vessel-abc-1' },
    spec: { containers: [{ name: 'vessel', image: podImage }] },
    status: {
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        ready === undefined
          ? { type: 'Ready', status: 'False', message: 'containers with unready status: [vessel]' }
          : { type: 'Ready', status: 'True', lastTransitionTime: secondsAgo(ready) },
      ],
      containerStatuses: [
        {
          name: 'vessel',
          image: podImage,
          imageID: '',
          ready: ready !== undefined,
          restartCount: 0,
          ...container,
        },
      ],
    },
  };
}

const crashLoop = (restartCount: number) => ({
  restartCount,
  state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
});

const problem = (pods: V1Pod[], restartLimit = 3, minReadySeconds = 10) =>
  podProblemOf(pods, image, restartLimit, minReadySeconds, now);

test('a crash loop under the restart limit is reported but not fatal; at the limit it fails the rollout', () => {
  assert.deepEqual(problem([pod(crashLoop(2))]), {
    fatal: false,
    detail:
      'crash loop: pod vessel-abc-1: CrashLoopBackOff (back-off 40s restarting failed container), restarted 2 times (limit 3)',
  });
  assert.equal(problem([pod(crashLoop(3))])?.fatal, true);
  assert.equal(problem([pod(crashLoop(3))], 5)?.fatal, false, 'the limit is the workload’s');
});

test('restarts of a pod that crashed after it was ready count while it is baking', () => {
  const restarted = {
    restartCount: 3,
    state: { running: {} },
    lastState: { terminated: { exitCode: 1, reason: 'Error' } },
  };
  assert.deepEqual(problem([pod(restarted, 4)]), {
    fatal: true,
    detail: 'crash loop: pod vessel-abc-1: Error, restarted 3 times (limit 3)',
  });
  // Ready for longer than minReadySeconds: it is available, and its restarts are history.
  assert.equal(problem([pod(restarted, 60)]), undefined);
});

test('old pods (another image) are not this rollout’s', () => {
  assert.equal(problem([pod(crashLoop(9), undefined, 'shippy-vessel:r1')]), undefined);
});

test('image pulls: a wrong reference fails at once, a missing image too, a pull that may pass is waited for', () => {
  const waiting = (reason: string, message?: string) => pod({ state: { waiting: { reason, message } } });
  for (const reason of ['ErrImageNeverPull', 'InvalidImageName']) {
    const found = problem([waiting(reason)]);
    assert.equal(found?.fatal, true, reason);
    assert.match(
      found!.detail,
      new RegExp(`^cannot start: pod vessel-abc-1: ${reason}; the node cannot get`),
    );
  }
  const missing = problem([
    waiting('ErrImagePull', 'failed to resolve reference "registry/shippy-vessel:r2": not found'),
  ]);
  assert.equal(missing?.fatal, true);
  assert.match(missing!.detail, /berth build --push/);
  const transient = problem([waiting('ImagePullBackOff', 'dial tcp 10.0.0.5:443: i/o timeout')]);
  assert.equal(transient?.fatal, false);
  assert.match(
    transient!.detail,
    /^cannot start yet: pod vessel-abc-1: ImagePullBackOff \(dial tcp .*berth build --load/,
  );
});

test('without a crash or pull problem: unscheduled, then not ready', () => {
  const unscheduled: V1Pod = {
    ...pod({}),
    status: {
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes' }],
    },
  };
  assert.deepEqual(problem([unscheduled]), {
    fatal: false,
    detail: 'pod vessel-abc-1 not scheduled: Unschedulable 0/1 nodes',
  });
  assert.deepEqual(problem([pod({})]), {
    fatal: false,
    detail: 'pod vessel-abc-1 not ready: containers with unready status: [vessel]',
  });
});

test('pods refused by admission (the ReplicaFailure condition) fail the rollout at once, naming why', () => {
  const refused: V1Deployment = {
    status: {
      conditions: [
        {
          type: 'ReplicaFailure',
          status: 'True',
          reason: 'FailedCreate',
          message:
            'pods "vessel-abc-x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true',
        },
      ],
    },
  };
  assert.deepEqual(refusalOf(refused), {
    fatal: true,
    detail:
      'pods are refused: pods "vessel-abc-x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true',
  });
  assert.equal(refusalOf({ status: { conditions: [{ type: 'Progressing', status: 'True' }] } }), undefined);
});

test('a StatefulSet’s FailedCreate events: one left from before the wait is not a refusal until it repeats', () => {
  const event = (uid: string, count: number, seconds: number): CoreV1Event => ({
    metadata: { uid },
    involvedObject: {},
    reason: 'FailedCreate',
    message: `create Pod postgres-0 in StatefulSet postgres failed error: pods "postgres-0" is forbidden: exceeded quota`,
    count,
    lastTimestamp: secondsAgo(seconds),
  });
  const refusals = new RefusalEvents();
  assert.equal(refusals.observe([event('old', 4, 3600)]), undefined, 'the first poll is the baseline');
  assert.equal(refusals.observe([event('old', 4, 3600)]), undefined, 'nothing happened since');
  assert.deepEqual(refusals.observe([event('old', 5, 0)]), {
    fatal: true,
    detail:
      'pods are refused: create Pod postgres-0 in StatefulSet postgres failed error: pods "postgres-0" is forbidden: exceeded quota',
  });
  const fresh = new RefusalEvents();
  fresh.observe([]);
  assert.equal(fresh.observe([event('new', 1, 0)])?.fatal, true, 'a refusal first seen during the wait');
});

test('the pod timeout starts again with each step, so a rollout that progresses never times out', () => {
  const timer = new ProgressTimer(60_000, now);
  // 20 replicas, one more available every 50 s: 1000 s in all, never 60 s without a step.
  for (let step = 0; step <= 20; step++) {
    const at = now + step * 50_000;
    timer.observe([step, step, step, 0], at);
    assert.equal(timer.stalledFor(at + 49_000), undefined, `step ${step}`);
  }
  const last = now + 20 * 50_000;
  timer.observe([20, 20, 20, 0], last + 30_000); // no further progress
  assert.equal(timer.stalledFor(last + 59_000), undefined);
  assert.equal(timer.stalledFor(last + 61_000), 61);
});

test('progress marks: an update, a ready pod, an available one and an old one gone each count', () => {
  const marks = (
    replicas: number,
    updatedReplicas: number,
    readyReplicas: number,
    availableReplicas: number,
  ) => progressMarks({ status: { replicas, updatedReplicas, readyReplicas, availableReplicas } });
  // A maxSurge 1 step of a 3-replica rollout: surge pod created, ready, available, an old pod gone.
  const steps = [
    marks(3, 0, 3, 3),
    marks(4, 1, 3, 3),
    marks(4, 1, 4, 3),
    marks(4, 1, 4, 4),
    marks(3, 1, 3, 3),
  ];
  for (let i = 1; i < steps.length; i++) {
    const timer = new ProgressTimer(1000, now);
    timer.observe(steps[i - 1]!, now);
    timer.observe(steps[i]!, now + 5000);
    assert.equal(timer.stalledFor(now + 5500), undefined, `step ${i} is progress`);
  }
  const stalled = new ProgressTimer(1000, now);
  stalled.observe(steps[1]!, now);
  stalled.observe(steps[1]!, now + 5000);
  assert.equal(stalled.stalledFor(now + 5000), 5, 'nothing moved');
});

const systemFile = `
system: shippy
rollout: { restartLimit: 5 }
services:
  vessel: { serves: [] }
  user:
    serves: []
    rollout: { minReadySeconds: 30, podTimeoutSeconds: 600 }
environments:
  production:
    rollout: { minReadySeconds: 20 }
`;

function rendered(env?: string): Map<string, V1Deployment> {
  const system = parseSystemFile(systemFile, { file: '/srv/shippy/berth.yaml', label: 'berth.yaml', env });
  const objects = renderManifests(system, { tags: { gateway: 'r1', vessel: 'r1', user: 'r1' } });
  const deployments = objects.filter((object) => object.kind === 'Deployment') as V1Deployment[];
  return new Map(deployments.map((deployment) => [deployment.metadata!.name!, deployment]));
}

test('berth.yaml rollout: minReadySeconds on the Deployment, limits as annotations; a service overrides the system', () => {
  const dev = rendered();
  assert.equal(dev.get('vessel')!.spec!.minReadySeconds, 10, 'the default bake');
  assert.deepEqual(limitsOf(dev.get('vessel')!, 300_000), { restartLimit: 5, podTimeoutMs: 300_000 });
  assert.equal(dev.get('gateway')!.metadata!.annotations![restartLimitAnnotation], '5');
  assert.equal(dev.get('user')!.spec!.minReadySeconds, 30);
  assert.deepEqual(limitsOf(dev.get('user')!, 300_000), { restartLimit: 5, podTimeoutMs: 600_000 });
  const production = rendered('production');
  assert.equal(production.get('vessel')!.spec!.minReadySeconds, 20, 'the environment’s');
  assert.equal(production.get('user')!.spec!.minReadySeconds, 30, 'the service’s own still wins');
});

test('a progress deadline no longer than the bake is refused before the API server sees it', () => {
  const system = parseSystemFile(systemFile, { file: '/srv/shippy/berth.yaml', label: 'berth.yaml' });
  assert.throws(
    () =>
      renderManifests(system, {
        tags: { gateway: 'r1', vessel: 'r1', user: 'r1' },
        progressDeadlineSeconds: 8,
      }),
    /the progress deadline \(8 s, --progress-deadline\) must be longer than user's rollout.minReadySeconds \(30 s\)/,
  );
});

test('bad rollout settings name the key and what is expected', () => {
  const bad = (rollout: string) => () =>
    parseSystemFile(`system: s\nrollout: ${rollout}\nservices:\n  a:\n`, {
      file: '/s/berth.yaml',
      label: 'berth.yaml',
    });
  assert.throws(bad('{ restartLimit: 0 }'), /rollout\.restartLimit/);
  assert.throws(bad('{ minReadySeconds: -1 }'), /rollout\.minReadySeconds/);
  assert.throws(bad('{ bake: 10 }'), /rollout.*bake/);
});
