/**
 * `berth deploy`: apply a release and see it through.
 *
 *  1. Namespace; a running canary stops the deploy (finish it first); then every
 *     object is validated by a server-side dry run (strict fields): if the API
 *     server rejects one, nothing changes.
 *  2. Generated Secrets (created once, values never overwritten, never rendered).
 *  3. Everything but workloads (RBAC, ConfigMaps, Services, PDBs, policies), server-side apply.
 *  4. Stateful dependencies (PostgreSQL, NATS) applied and waited for.
 *  5. Deployments applied; each whose spec changed is watched with live progress.
 *  6. If any rollout fails (progress deadline, crash loop, never ready): every
 *     Deployment this deploy changed is put back exactly as it was before it
 *     (the revision it ran, or its replica count) and waited for, and the result
 *     says why, per service. The deploy is recorded in the history ConfigMap.
 *  7. On success, objects the system no longer renders are pruned (only those
 *     labelled part-of=<system> and managed-by=berth), and the deploy is recorded.
 * Re-applying an unchanged release changes no spec, so no new ReplicaSet appears.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesObject, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { acquireDeployLock, type DeployLockOptions } from './deploy-lock.ts';
import { ensureSecrets } from './deploy-secrets.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import { renderManifests } from './manifests.ts';
import { managedBy } from './object-meta.ts';
import type { Progress } from './progress.ts';
import type { Release } from './release.ts';
import { readHistory, recordHistory } from './release-history.ts';
import { podProblem, revisionOf, undoRollout, waitForRollout } from './rollout.ts';

export interface DeployOptions {
  readonly client: KubeClient;
  readonly release: Release;
  readonly progress: Progress;
  /** How long each rollout may take before it counts as failed. */
  readonly timeoutMs?: number;
  readonly progressDeadlineSeconds?: number;
  readonly signal?: AbortSignal;
  /** The deploy lock's duration and holder name (deploy-lock.ts defaults). */
  readonly lock?: DeployLockOptions;
}

export type ServiceOutcome =
  | { readonly name: string; readonly result: 'unchanged' | 'updated'; readonly revision: number }
  | {
      readonly name: string;
      readonly result: 'failed';
      readonly reason: string;
      readonly rolledBackTo?: number;
    }
  | {
      readonly name: string;
      readonly result: 'rolled-back';
      readonly reason: string;
      readonly rolledBackTo?: number;
    };

export interface DeployResult {
  readonly ok: boolean;
  readonly deployNumber: number;
  readonly services: ServiceOutcome[];
  readonly pruned: string[];
}

const workloadKinds = new Set(['Deployment', 'StatefulSet']);
/** Kinds berth renders inside the namespace, hence the ones it may prune. */
const prunableKinds: Array<[string, string]> = [
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['v1', 'Service'],
  ['v1', 'ConfigMap'],
  ['v1', 'ServiceAccount'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
];

function key(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata?.name}`;
}

async function waitForStatefulSet(
  client: KubeClient,
  object: V1StatefulSet,
  options: DeployOptions,
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
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

/**
 * A deploy would prune a running canary (it is not part of the rendered release)
 * and race its promotion: the user finishes the canary first.
 */
async function refuseDuringCanary(client: KubeClient, release: Release): Promise<void> {
  const { system } = release;
  const canaries = await client.list<V1Deployment>(
    'apps/v1',
    'Deployment',
    system.namespace,
    `app.kubernetes.io/part-of=${system.system},berth.dev/track=canary`,
  );
  const services = canaries.items.map(
    (deployment) => deployment.metadata?.labels?.['app.kubernetes.io/name'] ?? deployment.metadata?.name,
  );
  if (services.length === 0) return;
  throw new Error(
    `a canary is running for ${services.join(', ')}; nothing was changed. Finish it first: ` +
      services
        .map((service) => `berth canary promote ${service}, or berth canary abort ${service}`)
        .join('; '),
  );
}

async function prune(client: KubeClient, release: Release, rendered: KubernetesObject[]): Promise<string[]> {
  const { system } = release;
  const wanted = new Set(rendered.map(key));
  const selector = `app.kubernetes.io/part-of=${system.system},app.kubernetes.io/managed-by=${managedBy}`;
  const pruned: string[] = [];
  for (const [apiVersion, kind] of prunableKinds) {
    const list = await client.list<KubernetesObject>(apiVersion, kind, system.namespace, selector);
    for (const object of list.items) {
      const id = `${kind}/${object.metadata?.name}`;
      if (wanted.has(id)) continue;
      await client.delete(apiVersion, kind, system.namespace, object.metadata!.name!);
      pruned.push(id);
    }
  }
  return pruned;
}

/**
 * Puts a Deployment back as it was before this deploy: exactly the revision it
 * ran, not merely "the one before the current" (a deploy that only changed
 * replicas made no new revision, and the one before would be an older release),
 * or, when only the replica count changed, that count.
 */
async function rollBack(
  options: DeployOptions,
  name: string,
  previous: V1Deployment | undefined,
  reason: string | undefined,
): Promise<ServiceOutcome> {
  const { client, release, progress } = options;
  const namespace = release.system.namespace;
  const because = reason ?? 'rolled back because another service failed';
  if (!previous) return { name, result: 'failed', reason: reason ?? 'new service; nothing to roll back to' };
  const revision = revisionOf(previous);
  try {
    const current = await client.get<V1Deployment>('apps/v1', 'Deployment', namespace, name);
    if (revisionOf(current) !== revision) {
      await undoRollout(client, namespace, name, revision);
    } else if (current?.spec?.replicas !== previous.spec?.replicas) {
      // Same template, other replica count: that count is what to undo.
      await client.mergePatch('apps/v1', 'Deployment', namespace, name, {
        spec: { replicas: previous.spec?.replicas },
      });
    } else {
      return { name, result: 'unchanged', revision };
    }
    const after = await waitForRollout(client, namespace, name, {
      timeoutMs: options.timeoutMs ?? 300_000,
      progress,
      label: `${name} (rollback)`,
      signal: options.signal,
    });
    const note = after.phase === 'complete' ? '' : `; rollback did not complete: ${after.detail}`;
    return {
      name,
      result: reason ? 'failed' : 'rolled-back',
      reason: because + note,
      rolledBackTo: revision,
    };
  } catch (error) {
    return { name, result: 'failed', reason: `${because}; rollback failed: ${(error as Error).message}` };
  }
}

/** What a deploy applies and a dry run validates: the same objects, rendered once here. */
function renderRelease(release: Release, progressDeadlineSeconds: number | undefined): KubernetesObject[] {
  return renderManifests(release.system, { tags: release.tags, progressDeadlineSeconds });
}

export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const { client, release } = options;
  const { system } = release;
  const objects = renderRelease(release, options.progressDeadlineSeconds);
  const namespace = objects.find((object) => object.kind === 'Namespace');
  if (namespace) await client.apply(namespace);
  const lock = await acquireDeployLock(client, system.system, system.namespace, options.lock);
  const signal = options.signal ? AbortSignal.any([options.signal, lock.lost]) : lock.lost;
  try {
    return await deployLocked({ ...options, signal }, objects);
  } catch (error) {
    // Stopped because the lock was lost: that is the reason, not the abort it caused.
    throw lock.lost.aborted ? lock.lost.reason : error;
  } finally {
    const problem = await lock.release();
    if (problem) options.progress.note(problem);
  }
}

/** The deploy itself, while this process holds the system's deploy lock. */
async function deployLocked(options: DeployOptions, objects: KubernetesObject[]): Promise<DeployResult> {
  const { client, release, progress } = options;
  const { system } = release;
  await refuseDuringCanary(client, release);
  // Everything is validated by the API server before anything changes: an object
  // rejected halfway through would leave some services on the new release
  // without a rollout to watch or roll back.
  const problems = await validate(client, objects);
  if (problems.length > 0) {
    throw new Error(
      `the API server rejects ${problems.length === 1 ? 'an object' : `${problems.length} objects`} of this release; nothing was changed:\n${problems.map((problem) => `  ${problem.object}: ${problem.error}`).join('\n')}`,
    );
  }
  await ensureSecrets(client, release, progress);

  for (const object of objects) {
    if (object.kind === 'Namespace' || workloadKinds.has(object.kind!)) continue;
    await client.apply(object);
  }
  // PostgreSQL and NATS start side by side; services start once both are ready.
  const statefulSets = objects.filter((candidate) => candidate.kind === 'StatefulSet') as V1StatefulSet[];
  for (const statefulSet of statefulSets) await client.apply(statefulSet);
  await Promise.all(statefulSets.map((statefulSet) => waitForStatefulSet(client, statefulSet, options)));

  const deployments = objects.filter((object) => object.kind === 'Deployment') as V1Deployment[];
  const before = new Map<string, V1Deployment | undefined>();
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    before.set(name, await client.get<V1Deployment>('apps/v1', 'Deployment', system.namespace, name));
  }
  const changed: string[] = [];
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    const applied = await client.apply(deployment);
    const previous = before.get(name);
    if (!previous || (applied.metadata?.generation ?? 0) !== (previous.metadata?.generation ?? 0))
      changed.push(name);
  }
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    if (!changed.includes(name))
      progress.update(name, `✓ unchanged (revision ${revisionOf(before.get(name))})`);
  }

  const timeoutMs = options.timeoutMs ?? 300_000;
  const states = await Promise.all(
    changed.map(async (name) => ({
      name,
      state: await waitForRollout(client, system.namespace, name, {
        timeoutMs,
        progress,
        label: name,
        signal: options.signal,
      }),
    })),
  );
  const failed = states.filter(({ state }) => state.phase === 'failed');
  const outcomes: ServiceOutcome[] = [];
  const revisions: Record<string, number> = {};
  const history = await readHistory(client, system.system, system.namespace);
  const deployNumber = (history.at(-1)?.deploy ?? 0) + 1;
  /** Reads the revision every Deployment runs now and records the deploy with them. */
  const finish = async (ok: boolean) => {
    for (const deployment of deployments) {
      const name = deployment.metadata!.name!;
      revisions[name] = revisionOf(
        await client.get<V1Deployment>('apps/v1', 'Deployment', system.namespace, name),
      );
    }
    await recordHistory(client, release, history, {
      deploy: deployNumber,
      time: new Date().toISOString(),
      environment: system.environment,
      tags: release.tags,
      ok,
      revisions,
    });
  };

  if (failed.length > 0) {
    progress.note(
      `rollout failed for ${failed.map(({ name }) => name).join(', ')}: rolling back every service this deploy changed`,
    );
    outcomes.push(
      ...(await Promise.all(
        changed.map((name) =>
          rollBack(
            options,
            name,
            before.get(name),
            failed.find((entry) => entry.name === name)?.state.detail,
          ),
        ),
      )),
    );
    progress.end();
    await finish(false);
    return { ok: false, deployNumber, services: outcomes, pruned: [] };
  }

  const pruned = await prune(client, release, objects);
  for (const id of pruned) progress.note(`pruned ${id} (no longer in ${system.file})`);
  progress.end();
  await finish(true);
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    outcomes.push({
      name,
      result: changed.includes(name) ? 'updated' : 'unchanged',
      revision: revisions[name],
    });
  }
  return { ok: true, deployNumber, services: outcomes, pruned };
}

export interface DryRunResult {
  readonly problems: Array<{ object: string; error: string }>;
  /** The namespace, when the dry run had to create it: namespaced objects can only be validated in one that exists. */
  readonly createdNamespace?: string;
}

/** Server-side dry run (strict field validation) of each object, all at once; the problems, in order. */
async function validate(
  client: KubeClient,
  objects: readonly KubernetesObject[],
): Promise<Array<{ object: string; error: string }>> {
  const results = await Promise.all(
    objects.map(async (object) => {
      try {
        await client.apply(object, { dryRun: true });
        return undefined;
      } catch (error) {
        if (!(error instanceof KubeApiError)) throw error;
        return { object: key(object), error: `${error.status} ${error.reason}: ${error.detail}` };
      }
    }),
  );
  return results.filter((result) => result !== undefined);
}

/** Server-side dry run of every rendered object: the API server validates (strictly) without changing anything. */
export async function dryRun(
  client: KubeClient,
  release: Release,
  progressDeadlineSeconds?: number,
): Promise<DryRunResult> {
  const objects = renderRelease(release, progressDeadlineSeconds);
  const namespace = objects.find((object) => object.kind === 'Namespace');
  let createdNamespace: string | undefined;
  if (namespace && !(await client.get('v1', 'Namespace', undefined, namespace.metadata!.name!))) {
    await client.apply(namespace);
    createdNamespace = namespace.metadata!.name!;
  }
  const problems = await validate(client, objects);
  return { problems, ...(createdNamespace ? { createdNamespace } : {}) };
}
