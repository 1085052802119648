/**
 * How a rollout fails, on the test cluster: pods that Pod Security admission
 * refuses fail it at once with the admission's reason (not at the timeout), a
 * pod that restarts while it bakes (`minReadySeconds`) fails it at the restart
 * limit, and a rollout that keeps making progress is not cut off by a timeout
 * shorter than the whole rollout (the timeout is per step). Deployments are made
 * directly with the KubeClient; the decisions themselves are unit-tested in
 * src/kube/rollout-failures.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../src/kube/kube-client.ts';
import { nonRootSecurity } from '../../src/kube/pod-security.ts';
import { createProgress } from '../../src/kube/progress.ts';
import { waitForRollout } from '../../src/kube/rollout.ts';
import { restartLimitAnnotation } from '../../src/kube/rollout-failures.ts';
import { waitFor } from '../support/wait.ts';
import { shippyNamespace } from './cluster.ts';

const setup = shippyNamespace('rollout-failures');
const { namespace } = setup;
const progress = createProgress(process.stdout, false);

/**
 * Admission holds pods here to the restricted standard, as berth's own namespaces
 * do. Applied (idempotently) by each test: shippyNamespace's client is only set
 * once its `before` hook has run.
 */
async function client(): Promise<KubeClient> {
  await setup.client.apply({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
      },
    },
  });
  return setup.client;
}

/** A Deployment of `replicas` pods that pass the restricted standard unless `compliant` is false. */
function deployment(
  name: string,
  options: { replicas?: number; minReadySeconds?: number; restartLimit?: number; compliant?: boolean } = {},
): V1Deployment {
  const security = nonRootSecurity(10001);
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace,
      annotations:
        options.restartLimit === undefined ? {} : { [restartLimitAnnotation]: String(options.restartLimit) },
    },
    spec: {
      replicas: options.replicas ?? 1,
      minReadySeconds: options.minReadySeconds ?? 0,
      // Longer than any wait here: what fails these rollouts is berth's judgement, not Kubernetes'.
      progressDeadlineSeconds: 3600,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels },
        spec: {
          ...(options.compliant === false ? {} : { securityContext: security.pod }),
          containers: [
            {
              name,
              image: `example/${name}:1`,
              ...(options.compliant === false ? {} : { securityContext: security.container }),
            },
          ],
        },
      },
    },
  };
}

const wait = (name: string, timeoutMs: number) =>
  waitForRollout(setup.client, namespace, name, { timeoutMs, progress, label: name, pollMs: 200 });

test('pods that Pod Security admission refuses fail the rollout at once, with the admission’s reason', async () => {
  await (await client()).create(deployment('refused', { compliant: false }));
  const state = await wait('refused', 120_000);
  assert.equal(state.phase, 'failed');
  assert.match(
    state.detail,
    /^pods are refused: pods "refused-\S+" is forbidden: violates PodSecurity "restricted:latest": .*runAsNonRoot/,
  );
});

test('a pod that restarts while it bakes fails the rollout once it reaches the restart limit', async () => {
  // Ready at once (KWOK), but only available after 10 minutes: the rollout is still baking.
  await (await client()).create(deployment('baking', { minReadySeconds: 600, restartLimit: 2 }));
  const pod = await waitFor(
    async () => {
      const pods = await setup.client.list<V1Pod>('v1', 'Pod', namespace, 'app=baking');
      return pods.items.find((candidate) =>
        candidate.status?.conditions?.some(
          (condition) => condition.type === 'Ready' && condition.status === 'True',
        ),
      );
    },
    { timeoutMs: 60_000, what: 'a ready pod of baking' },
  );
  // Its container crashed twice after it was ready and runs again (as the kubelet reports it).
  const container = pod.status!.containerStatuses![0]!;
  await setup.client.request(
    'PATCH',
    `${setup.client.path('v1', 'Pod', namespace, pod.metadata!.name!)}/status`,
    {
      status: {
        containerStatuses: [
          {
            ...container,
            restartCount: 2,
            lastState: { terminated: { exitCode: 1, reason: 'Error' } },
          },
        ],
      },
    },
    'application/merge-patch+json',
  );
  const state = await wait('baking', 120_000);
  assert.equal(state.phase, 'failed');
  assert.match(state.detail, /^crash loop: pod baking-\S+: Error, restarted 2 times \(limit 2\)$/);
});

test('a rollout that keeps making progress completes, though it takes longer than its timeout', async () => {
  await (await client()).create(deployment('steady', { replicas: 5 }));
  assert.equal((await wait('steady', 120_000)).phase, 'complete');
  // Each new pod must stay ready 3 s before the next one starts (maxSurge 1): five
  // steps of at least 3 s each, so the whole rollout takes longer than the 8 s it
  // may go without a step.
  await setup.client.mergePatch('apps/v1', 'Deployment', namespace, 'steady', {
    spec: { minReadySeconds: 3, template: { metadata: { annotations: { release: '2' } } } },
  });
  const state = await wait('steady', 8_000);
  assert.equal(state.phase, 'complete', state.detail);
});
