/**
 * Rollouts of Deployments (and the wait for a StatefulSet's): where one stands (as `kubectl rollout status` judges
 * it), waiting for it with progress, detecting failure early, and undoing it to
 * an earlier revision (as `kubectl rollout undo`: the ReplicaSet of that revision
 * holds its exact pod template).
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client.ts';
import { labelSelector } from './object-meta.ts';
import type { Progress } from './progress.ts';

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

/** Waiting reasons that will not fix themselves: the rollout fails at once instead of at its deadline. */
const fatalReasons = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerConfigError',
]);

/** Waiting reasons that mean the node has no such image and cannot get it. */
const pullFailures = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName']);

/** What to do when a node cannot get an image: it was never pushed where the node pulls from, or never loaded. */
function pullHint(image: string): string {
  return `the node cannot get ${image}: push it (berth build --push) to a registry the node can pull from, or load it into the node (berth build --load), then deploy again`;
}

export interface PodProblem {
  /** True when waiting longer cannot help (crash loop, image that cannot be pulled). */
  readonly fatal: boolean;
  readonly detail: string;
}

/**
 * Why pods of a workload's current template are not ready: the first fatal
 * problem if any, else the first other one (unschedulable, not ready), so a
 * failed rollout names a cause and not just a count.
 */
export async function podProblem(
  client: KubeClient,
  deployment: V1Deployment | V1StatefulSet,
): Promise<PodProblem | undefined> {
  const namespace = deployment.metadata?.namespace;
  const image = deployment.spec?.template.spec?.containers[0]?.image;
  const pods = await client.list<V1Pod>('v1', 'Pod', namespace, selectorString(deployment));
  let other: PodProblem | undefined;
  for (const pod of pods.items) {
    // Old pods (and a canary's, which the same selector matches) are not this rollout's.
    if (pod.spec?.containers[0]?.image !== image || pod.metadata?.deletionTimestamp) continue;
    const name = `pod ${pod.metadata?.name}`;
    for (const container of pod.status?.containerStatuses ?? []) {
      const waiting = container.state?.waiting;
      if (waiting?.reason && fatalReasons.has(waiting.reason)) {
        const what = waiting.reason === 'CrashLoopBackOff' ? 'crash loop' : 'cannot start';
        const message = waiting.message ? ` (${waiting.message})` : '';
        const hint = pullFailures.has(waiting.reason) ? `; ${pullHint(container.image)}` : '';
        return { fatal: true, detail: `${what}: ${name}: ${waiting.reason}${message}${hint}` };
      }
    }
    const conditions = pod.status?.conditions ?? [];
    const scheduled = conditions.find((condition) => condition.type === 'PodScheduled');
    if (!other && scheduled?.status === 'False') {
      other = {
        fatal: false,
        detail: `${name} not scheduled: ${scheduled.reason ?? ''} ${scheduled.message ?? ''}`.trim(),
      };
    }
    const ready = conditions.find((condition) => condition.type === 'Ready');
    if (!other && scheduled?.status === 'True' && ready?.status === 'False') {
      other = { fatal: false, detail: `${name} not ready${ready.message ? `: ${ready.message}` : ''}` };
    }
  }
  return other;
}

export interface WaitOptions {
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
  const deadline = Date.now() + options.timeoutMs;
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
    const problem = await podProblem(client, deployment);
    const cause = problem ? `; ${problem.detail}` : '';
    if (state.phase === 'failed') return { phase: 'failed', detail: state.detail + cause };
    if (problem?.fatal) return { phase: 'failed', detail: problem.detail };
    if (Date.now() >= deadline) {
      return {
        phase: 'failed',
        detail: `pods never became ready within ${Math.round(options.timeoutMs / 1000)} s (${state.detail})${cause}`,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
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
 * or the time runs out, naming why.
 */
export async function waitForStatefulSet(
  client: KubeClient,
  object: V1StatefulSet,
  options: Omit<WaitOptions, 'label' | 'pollMs'>,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const name = object.metadata!.name!;
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
    const problem = current && (await podProblem(client, current));
    if (problem?.fatal) throw new Error(`${name} cannot become ready: ${problem.detail}`);
    if (Date.now() > deadline) {
      // A claim no volume can satisfy is the usual cause: name it.
      const cause = problem ? `; ${problem.detail}` : '';
      throw new Error(`${name} did not become ready in time (${ready}/${want} ready)${cause}`);
    }
    await sleep(1000, undefined, { signal: options.signal });
  }
}
