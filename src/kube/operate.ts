/**
 * Day-two operations on a deployed system: status, scale, canary, pod logs.
 * Rollout undo lives in rollout.ts; deploy in deploy.ts.
 */
import type { V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { SystemFile } from '../config/system-file.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import { renderManifests } from './manifests.ts';
import { canaryWeightAnnotation, labelSelector, selectorFor } from './object-meta.ts';
import type { Progress } from './progress.ts';
import type { Release } from './release.ts';
import { recordCanaryOutcome } from './release-history.ts';
import { ReleaseSnapshot } from './release-snapshot.ts';
import { rolloutFailure } from './release-waits.ts';
import { revisionOf, rolloutState, waitForRollout } from './rollout.ts';

export interface ServiceStatus {
  readonly name: string;
  /** Deployment for services, the gateway and canaries; StatefulSet for postgres and nats. */
  readonly kind: 'Deployment' | 'StatefulSet';
  readonly desired: number;
  readonly ready: number;
  readonly updated: number;
  readonly available: number;
  /** The Deployment's revision; 0 for a StatefulSet (its revisions are hashes). */
  readonly revision: number;
  readonly tag: string;
  readonly state: string;
  readonly conditions: string[];
}

function tagOf(image: string | undefined): string {
  return image?.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : '?';
}

/** Every workload of the system in its namespace (Deployments, then StatefulSets), by name. */
export async function systemStatus(client: KubeClient, system: SystemFile): Promise<ServiceStatus[]> {
  const selector = `app.kubernetes.io/part-of=${system.system}`;
  const [deployments, statefulSets] = await Promise.all([
    client.list<V1Deployment>('apps/v1', 'Deployment', system.namespace, selector),
    client.list<V1StatefulSet>('apps/v1', 'StatefulSet', system.namespace, selector),
  ]);
  const services = deployments.items.map(
    (deployment): ServiceStatus => ({
      name: deployment.metadata?.name ?? '?',
      kind: 'Deployment',
      desired: deployment.spec?.replicas ?? 0,
      ready: deployment.status?.readyReplicas ?? 0,
      updated: deployment.status?.updatedReplicas ?? 0,
      available: deployment.status?.availableReplicas ?? 0,
      revision: revisionOf(deployment),
      tag: tagOf(deployment.spec?.template.spec?.containers[0]?.image),
      state: rolloutState(deployment).detail,
      conditions: (deployment.status?.conditions ?? []).map(
        (condition) =>
          `${condition.type}=${condition.status}${condition.reason ? ` (${condition.reason})` : ''}`,
      ),
    }),
  );
  const resources = statefulSets.items.map((statefulSet): ServiceStatus => {
    const desired = statefulSet.spec?.replicas ?? 1;
    const ready = statefulSet.status?.readyReplicas ?? 0;
    return {
      name: statefulSet.metadata?.name ?? '?',
      kind: 'StatefulSet',
      desired,
      ready,
      updated: statefulSet.status?.updatedReplicas ?? 0,
      available: statefulSet.status?.availableReplicas ?? 0,
      revision: 0,
      tag: tagOf(statefulSet.spec?.template.spec?.containers[0]?.image),
      state: `${ready}/${desired} ready`,
      conditions: (statefulSet.status?.conditions ?? []).map(
        (condition) => `${condition.type}=${condition.status}`,
      ),
    };
  });
  const byName = (a: ServiceStatus, b: ServiceStatus) => a.name.localeCompare(b.name);
  return [...services.sort(byName), ...resources.sort(byName)];
}

async function deploymentOf(client: KubeClient, system: SystemFile, name: string): Promise<V1Deployment> {
  const deployment = await client.get<V1Deployment>('apps/v1', 'Deployment', system.namespace, name);
  if (!deployment) {
    throw new Error(
      `no deployment "${name}" in namespace ${system.namespace}; deployed services: run "berth status"`,
    );
  }
  return deployment;
}

/** An autoscaled service's replicas are its HorizontalPodAutoscaler's, which would set its own count again. */
export function refuseAutoscaled(system: SystemFile, name: string): void {
  const autoscale = system.services[name]?.autoscale;
  if (!autoscale) return;
  throw new Error(
    `${name} autoscales (autoscale: { min: ${autoscale.min}, max: ${autoscale.max}, cpu: ${autoscale.cpu} } in ${system.file}, environment ${system.environment}): its HorizontalPodAutoscaler sets the replicas. Change autoscale's min or max there and run berth deploy instead`,
  );
}

/**
 * Sets replicas now. The next `berth deploy` applies berth.yaml's replicas again,
 * as every declarative tool does: change the file to make it stick. An
 * autoscaled service is refused: its autoscaler owns the count.
 */
export async function scale(
  client: KubeClient,
  system: SystemFile,
  name: string,
  replicas: number,
): Promise<void> {
  if (!Number.isInteger(replicas) || replicas < 0)
    throw new Error(`replicas must be a whole number ≥ 0, got ${replicas}`);
  refuseAutoscaled(system, name);
  await deploymentOf(client, system, name);
  await client.mergePatch('apps/v1', 'Deployment', system.namespace, name, { spec: { replicas } });
}

/** Canary replicas so that they take about `weight` % of a service's pods (at least one). */
function canaryReplicas(stableReplicas: number, weight: number): number {
  if (!(weight > 0 && weight < 100)) throw new Error(`--weight must be between 1 and 99, got ${weight}`);
  return Math.max(1, Math.round((stableReplicas * weight) / (100 - weight)));
}

/**
 * Writes (or, with undefined, removes) the canary weight on the service's
 * Kubernetes Service, which berth's callers read through the registry to send
 * that share of calls to the canary's pods.
 */
async function setCanaryWeight(
  client: KubeClient,
  system: SystemFile,
  name: string,
  weight: number | undefined,
): Promise<void> {
  await client.mergePatch('v1', 'Service', system.namespace, name, {
    metadata: { annotations: { [canaryWeightAnnotation]: weight === undefined ? null : String(weight) } },
  });
}

/**
 * Starts a canary: `<name>-canary` runs the release's image beside the stable
 * Deployment, selected by the same Service, with replicas in proportion to
 * `weight`; the Service's `berth.dev/canary-weight` makes berth's callers send
 * `weight` % of calls to it, whatever the pods' ratio. Resolves when every canary
 * pod is ready (or is not); the error-rate gate is canary-analysis.ts.
 */
export async function startCanary(
  client: KubeClient,
  release: Release,
  name: string,
  weight: number,
  progress: Progress,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  const { system } = release;
  if (!system.services[name]) {
    throw new Error(
      `no service "${name}" in ${system.file}; services: ${Object.keys(system.services).join(', ')}`,
    );
  }
  const stable = await deploymentOf(client, system, name);
  const stableTag = stable.metadata?.labels?.['app.kubernetes.io/version'];
  if (!stableTag) throw new Error(`${name} has no version label; deploy it with berth first`);
  const tag = release.tags[name]!;
  if (tag === stableTag)
    throw new Error(`${name} already runs ${tag}: nothing to canary (change the service and try again)`);
  const replicas = canaryReplicas(stable.spec?.replicas ?? 1, weight);
  const objects = renderManifests(system, {
    tags: { ...release.tags, [name]: stableTag },
    canaries: { [name]: { tag, replicas } },
    // As the last deploy set it (berth deploy --progress-deadline).
    progressDeadlineSeconds: stable.spec?.progressDeadlineSeconds,
  });
  const canary = objects.find(
    (object) => object.kind === 'Deployment' && object.metadata?.name === `${name}-canary`,
  )!;
  // Before the pods: the first canary pod to be ready already gets its share, not a pod-count one.
  await setCanaryWeight(client, system, name, weight);
  await client.apply(canary);
  progress.note(
    `canary ${name}-canary: ${replicas} pod(s) of ${tag} beside ${stable.spec?.replicas ?? 1} of ${stableTag}`,
  );
  const state = await waitForRollout(client, system.namespace, `${name}-canary`, {
    timeoutMs,
    progress,
    label: `${name}-canary`,
    signal,
  });
  progress.end();
  return { ok: state.phase === 'complete', detail: state.detail };
}

/**
 * Promote: the stable Deployment takes the canary's image (a normal rollout),
 * then the canary goes. If that rollout fails, the stable Deployment is put back
 * as it was before (release-snapshot.ts, as a failed deploy is) and waited for;
 * the canary keeps running, so the user can abort it or fix the cause and
 * promote again. Recorded in the release history either way.
 */
export async function promoteCanary(
  client: KubeClient,
  release: Release,
  name: string,
  progress: Progress,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  const { system } = release;
  const canary = await deploymentOf(client, system, `${name}-canary`);
  const state = rolloutState(canary);
  if (state.phase !== 'complete')
    throw new Error(`canary ${name}-canary is not healthy (${state.detail}); abort it instead`);
  const tag = canary.metadata?.labels?.['app.kubernetes.io/version'];
  if (!tag) throw new Error(`${name}-canary has no version label`);
  const current = await deploymentOf(client, system, name);
  const objects = renderManifests(system, {
    tags: { ...release.tags, [name]: tag },
    // Only the image changes: the deadline stays as the last deploy set it.
    progressDeadlineSeconds: current.spec?.progressDeadlineSeconds,
  });
  const stable = objects.find((object) => object.kind === 'Deployment' && object.metadata?.name === name)!;
  const before = new ReleaseSnapshot();
  before.note(stable, current);
  await client.apply(stable);
  const waits = { client, progress, timeoutMs };
  const failure = await rolloutFailure(waits, system.namespace, name, name, signal);
  const recordOutcome = async (ok: boolean) => {
    const revision = revisionOf(await deploymentOf(client, system, name));
    await recordCanaryOutcome(client, release, {
      action: 'canary-promote',
      service: name,
      tag,
      ok,
      revision,
    });
  };
  if (failure === undefined) {
    progress.end();
    await client.delete('apps/v1', 'Deployment', system.namespace, `${name}-canary`);
    await setCanaryWeight(client, system, name, undefined);
    await recordOutcome(true);
    return { ok: true, detail: `${name} now runs ${tag}` };
  }
  const previous = revisionOf(current);
  progress.note(`${name}: promotion failed (${failure}); putting back revision ${previous}`);
  const restore = await before.restore(client, progress);
  const notBack =
    restore.problems[0] ??
    (await rolloutFailure(waits, system.namespace, name, `${name} (rollback)`, signal));
  progress.end();
  await recordOutcome(false);
  const where =
    notBack === undefined
      ? `${name} is back on revision ${previous}`
      : `putting ${name} back on revision ${previous} did not complete (${notBack})`;
  return {
    ok: false,
    detail: `promotion failed: ${failure}; ${where}, the canary is kept: abort it (berth canary abort ${name}) or fix the cause and promote again`,
  };
}

/** Removes the canary (the stable Deployment never stopped serving) and records that in the history. */
export async function abortCanary(client: KubeClient, release: Release, name: string): Promise<void> {
  const { system } = release;
  const canary = await deploymentOf(client, system, `${name}-canary`);
  await client.delete('apps/v1', 'Deployment', system.namespace, `${name}-canary`);
  await setCanaryWeight(client, system, name, undefined);
  await recordCanaryOutcome(client, release, {
    action: 'canary-abort',
    service: name,
    tag: canary.metadata?.labels?.['app.kubernetes.io/version'] ?? '?',
    ok: true,
    revision: revisionOf(await deploymentOf(client, system, name)),
  });
}

export interface PodLog {
  readonly pod: string;
  readonly log?: string;
  /** Why the cluster could not provide this pod's log. */
  readonly error?: string;
}

/**
 * Logs of each pod of a service (canary pods included), or a clear reason per
 * pod when the cluster cannot provide them: the API server fetches logs from the
 * node's kubelet, which a fake node (KWOK) or an unreachable one does not have.
 */
export async function podLogs(
  client: KubeClient,
  system: SystemFile,
  name: string,
  tailLines = 100,
): Promise<PodLog[]> {
  const pods = await client.list<V1Pod>(
    'v1',
    'Pod',
    system.namespace,
    labelSelector(selectorFor(system, name)),
  );
  if (pods.items.length === 0) throw new Error(`no pods of "${name}" in namespace ${system.namespace}`);
  return Promise.all(
    pods.items
      .map((pod) => pod.metadata!.name!)
      .sort()
      .map(async (pod): Promise<PodLog> => {
        const path = `${client.path('v1', 'Pod', system.namespace, pod)}/log?tailLines=${tailLines}`;
        try {
          return { pod, log: await client.requestText('GET', path) };
        } catch (error) {
          if (!(error instanceof KubeApiError)) throw error;
          return {
            pod,
            error: `the cluster cannot provide the logs of pod ${pod} (${error.status} ${error.reason}: ${error.detail})`,
          };
        }
      }),
  );
}
