/**
 * Rollouts of Deployments (and the wait for a StatefulSet's): where one stands (as `kubectl rollout status` judges
 * it), waiting for it with progress, detecting failure early, and undoing it to
 * an earlier revision (as `kubectl rollout undo`: the ReplicaSet of that revision
 * holds its exact pod template).
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Event, V1Deployment, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client.ts';
import { labelSelector } from './object-meta.ts';
import type { Progress } from './progress.ts';
import {
  limitsOf,
  type PodProblem,
  ProgressTimer,
  podProblemOf,
  progressMarks,
  RefusalEvents,
  refusalOf,
} from './rollout-failures.ts';

export type RolloutState =
  | { readonly phase: 'progressing'; readonly detail: string }
  | { readonly phase: 'complete'; readonly detail: string }
  | { readonly phase: 'failed'; readonly detail: string };

const revisionAnnotation = 'deployment.kubernetes.io/revision';

export function revisionOf(
  object: { metadata?: { annotations?: Record<string, string> } } | undefined,
): number {
  return Number(object?.metadata?.annotations?.[revisionAnnotation] ?? 0);
}

export function rolloutState(deployment: V1Deployment): RolloutState {
  const spec = deployment.spec;
  const status = deployment.status ?? {};
  const want = spec?.replicas ?? 1;
  if ((deployment.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return { phase: 'progressing', detail: 'waiting for the controller to see the new spec' };
  }
  const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      phase: 'failed',
      detail: `progress deadline exceeded (${progressing.message ?? 'no progress'})`,
    };
  }
  const updated = status.updatedReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const total = status.replicas ?? 0;
  if (updated < want)
    return { phase: 'progressing', detail: `${updated}/${want} updated, ${available} available` };
  if (total > updated) return { phase: 'progressing', detail: `${total - updated} old replicas terminating` };
  if (available < updated) return { phase: 'progressing', detail: `${available}/${want} available` };
  return { phase: 'complete', detail: `${available}/${want} ready` };
}

function selectorString(deployment: V1Deployment | V1StatefulSet): string {
  return labelSelector(deployment.spec?.selector.matchLabels ?? {});
}

/**
 * Why pods of a workload's current template are not ready (rollout-failures.ts
 * decides): pods refused by admission first, then the pods' own problems.
 */
export async function podProblem(
  client: KubeClient,
  workload: V1Deployment | V1StatefulSet,
  restartLimit: number,
): Promise<PodProblem | undefined> {
  if (workload.kind !== 'StatefulSet') {
    const refused = refusalOf(workload as V1Deployment);
    if (refused) return refused;
  }
  const namespace = workload.metadata?.namespace;
  const image = workload.spec?.template.spec?.containers[0]?.image;
  const pods = await client.list<V1Pod>('v1', 'Pod', namespace, selectorString(workload));
  return podProblemOf(pods.items, image, restartLimit, workload.spec?.minReadySeconds ?? 0, Date.now());
}

/** The FailedCreate events of one object (a StatefulSet: pods it could not create, and why). */
async function failedCreates(client: KubeClient, object: V1StatefulSet): Promise<CoreV1Event[]> {
  const fields = `involvedObject.uid=${object.metadata?.uid},reason=FailedCreate`;
  const path = `${client.path('v1', 'Event', object.metadata?.namespace)}?fieldSelector=${encodeURIComponent(fields)}`;
  return (await client.request<{ items: CoreV1Event[] }>('GET', path)).items;
}

export interface WaitOptions {
  /**
   * How long the rollout may go without another new pod becoming available
   * (not its whole duration), where the workload's berth.yaml `rollout` sets none.
   */
  readonly timeoutMs: number;
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  readonly progress: Progress;
  /** Label shown in progress lines. */
  readonly label: string;
}

/** Waits until the rollout completes or fails; never throws for a failed rollout. */
export async function waitForRollout(
  client: KubeClient,
  namespace: string,
  name: string,
  options: WaitOptions,
): Promise<RolloutState> {
  let timer: ProgressTimer | undefined;
  while (true) {
    if (options.signal?.aborted) return { phase: 'failed', detail: 'interrupted' };
    const deployment = await client.get<V1Deployment>('apps/v1', 'Deployment', namespace, name);
    if (!deployment) return { phase: 'failed', detail: `deployment ${namespace}/${name} does not exist` };
    const state = rolloutState(deployment);
    const revision = revisionOf(deployment);
    options.progress.update(
      options.label,
      `${state.phase === 'complete' ? '✓' : state.phase === 'failed' ? '✗' : '…'} ${state.detail} (revision ${revision})`,
    );
    if (state.phase === 'complete') return state;
    const limits = limitsOf(deployment, options.timeoutMs);
    timer ??= new ProgressTimer(limits.podTimeoutMs, Date.now());
    // A status the controller wrote for the previous spec says nothing of this rollout's progress.
    const observed = (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
    if (observed) timer.observe(progressMarks(deployment), Date.now());
    const problem = await podProblem(client, deployment, limits.restartLimit);
    const cause = problem ? `; ${problem.detail}` : '';
    if (state.phase === 'failed') return { phase: 'failed', detail: state.detail + cause };
    if (problem?.fatal) return { phase: 'failed', detail: problem.detail };
    const stalled = timer.stalledFor(Date.now());
    if (stalled !== undefined) {
      return {
        phase: 'failed',
        detail: `no progress for ${stalled} s: no new pod became ready or available (${state.detail})${cause}`,
      };
    }
    await sleep(options.pollMs ?? 1000, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

/** ReplicaSets owned by the deployment, newest revision first. */
async function replicaSetsOf(client: KubeClient, deployment: V1Deployment): Promise<V1ReplicaSet[]> {
  const sets = await client.list<V1ReplicaSet>(
    'apps/v1',
    'ReplicaSet',
    deployment.metadata?.namespace,
    selectorString(deployment),
  );
  return sets.items
    .filter((set) => set.metadata?.ownerReferences?.some((owner) => owner.uid === deployment.metadata?.uid))
    .sort((a, b) => revisionOf(b) - revisionOf(a));
}

/**
 * Puts back the pod template of `toRevision` (default: the one before the current).
 * Returns the revision restored, or throws when there is none to go back to.
 */
export async function undoRollout(
  client: KubeClient,
  namespace: string,
  name: string,
  toRevision?: number,
): Promise<number> {
  const deployment = await client.get<V1Deployment>('apps/v1', 'Deployment', namespace, name);
  if (!deployment) throw new Error(`deployment ${namespace}/${name} does not exist`);
  const current = revisionOf(deployment);
  const sets = await replicaSetsOf(client, deployment);
  const target =
    toRevision === undefined
      ? sets.find((set) => revisionOf(set) < current)
      : sets.find((set) => revisionOf(set) === toRevision);
  if (!target?.spec?.template) {
    const known = sets.map(revisionOf).join(', ') || 'none';
    throw new Error(
      toRevision === undefined
        ? `${name} has no earlier revision to roll back to (revisions: ${known})`
        : `${name} has no revision ${toRevision} (revisions: ${known})`,
    );
  }
  const template = structuredClone(target.spec.template);
  delete template.metadata?.labels?.['pod-template-hash'];
  await client.jsonPatch('apps/v1', 'Deployment', namespace, name, [
    { op: 'replace', path: '/spec/template', value: template },
  ]);
  return revisionOf(target);
}

/**
 * Waits until every replica of a StatefulSet runs its new revision and is ready
 * (ready pods of the old revision are not done); throws when a pod cannot start
 * or no pod becomes ready and updated for the timeout, naming why.
 */
export async function waitForStatefulSet(
  client: KubeClient,
  object: V1StatefulSet,
  options: Omit<WaitOptions, 'label' | 'pollMs'>,
): Promise<void> {
  const timer = new ProgressTimer(limitsOf(object, options.timeoutMs).podTimeoutMs, Date.now());
  const name = object.metadata!.name!;
  const refusals = new RefusalEvents();
  while (true) {
    const current = await client.get<V1StatefulSet>(
      'apps/v1',
      'StatefulSet',
      object.metadata?.namespace,
      name,
    );
    const want = current?.spec?.replicas ?? 1;
    const status = current?.status;
    const ready = status?.readyReplicas ?? 0;
    const fresh = (status?.observedGeneration ?? 0) >= (current?.metadata?.generation ?? 1);
    // Ready pods of the old revision are not done: every pod must run the new one.
    const updated =
      status?.updateRevision === undefined ||
      (status.currentRevision === status.updateRevision && (status.updatedReplicas ?? 0) >= want);
    const done = ready >= want && fresh && updated;
    options.progress.update(
      name,
      `${done ? '✓' : '…'} ${ready}/${want} ready${updated ? '' : `, ${status?.updatedReplicas ?? 0}/${want} updated`}`,
    );
    if (done) return;
    if (fresh) timer.observe([status?.updatedReplicas ?? 0, ready], Date.now());
    const problem =
      current &&
      (refusals.observe(await failedCreates(client, current)) ??
        (await podProblem(client, current, limitsOf(current, options.timeoutMs).restartLimit)));
    if (problem?.fatal) throw new Error(`${name} cannot become ready: ${problem.detail}`);
    const stalled = timer.stalledFor(Date.now());
    if (stalled !== undefined) {
      // A claim no volume can satisfy is the usual cause: name it.
      const cause = problem ? `; ${problem.detail}` : '';
      throw new Error(
        `${name} did not become ready in time: no progress for ${stalled} s (${ready}/${want} ready)${cause}`,
      );
    }
    await sleep(1000, undefined, { signal: options.signal });
  }
}
