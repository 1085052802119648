/**
 * `berth deploy`: apply a release and see it through.
 *
 *  1. Namespace; a running canary stops the deploy (finish it first); then every
 *     object is validated by a server-side dry run (strict fields): if the API
 *     server rejects one, nothing changes.
 *  2. Generated Secrets (created once, values never overwritten, never rendered).
 *  3. Everything but workloads (RBAC, ConfigMaps, Services, PDBs, HPAs, policies),
 *     server-side apply.
 *  4. Stateful dependencies (PostgreSQL, NATS) applied and waited for.
 *  5. Deployments applied (an autoscaled one's replicas handed over first:
 *     autoscaler.ts); each whose spec changed is watched with live progress.
 *  6. If any rollout fails (progress deadline, crash loop, never ready): every
 *     Deployment this deploy changed is put back exactly as it was before it
 *     (the revision it ran, or its replica count) and waited for, and the result
 *     says why, per service. The deploy is recorded in the history ConfigMap.
 *  7. On success, objects the system no longer renders are pruned (prune.ts),
 *     and the deploy is recorded.
 * Re-applying an unchanged release changes no spec, so no new ReplicaSet appears,
 * and the outcome is `unchanged`. What each apply changed is noted for the result.
 * A deploy refused before it starts (lock held, canary running) or stopped by an
 * error throws; the CLI names those outcomes `refused` and `failed`.
 */
import type { KubernetesObject, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { handOverReplicas } from './autoscaler.ts';
import { acquireDeployLock, type DeployLockOptions, DeployRefusedError } from './deploy-lock.ts';
import { ensureSecrets } from './deploy-secrets.ts';
import { renderRelease, validate } from './dry-run.ts';
import type { KubeClient } from './kube-client.ts';
import type { ObjectRef } from './object-meta.ts';
import type { Progress } from './progress.ts';
import { prune } from './prune.ts';
import type { Release } from './release.ts';
import { readHistory, recordHistory } from './release-history.ts';
import { revisionOf, undoRollout, waitForRollout, waitForStatefulSet } from './rollout.ts';

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
      /** `failed`: its own rollout failed; `rolled-back`: it went back because another one failed. */
      readonly result: 'failed' | 'rolled-back';
      readonly reason: string;
      readonly rolledBackTo?: number;
      /** Whether it runs again exactly what it ran before this deploy. */
      readonly restored: boolean;
    };

/** How a deploy that ran ended: `rolled-back` if every changed Deployment is back as before, else `failed`. */
export type DeployOutcome = 'deployed' | 'unchanged' | 'rolled-back' | 'failed';

export interface DeployResult {
  readonly outcome: DeployOutcome;
  readonly deployNumber: number;
  readonly services: ServiceOutcome[];
  /** What this deploy created or changed (generated Secrets too), in the order it applied them. */
  readonly changed: ObjectRef[];
  readonly pruned: ObjectRef[];
  /** Each Deployment's revision before (null: it is new) and after this deploy. */
  readonly revisions: Record<string, { readonly from: number | null; readonly to: number }>;
  /** Why it rolled back, per failed service. */
  readonly reason?: string;
}

const workloadKinds = new Set(['Deployment', 'StatefulSet']);

/**
 * Server-side applies `object` over `current` (what the cluster had); whether
 * that changed it: its generation, for kinds that have one (status updates by
 * controllers do not count), else its resourceVersion.
 */
async function applyChanges(
  client: KubeClient,
  object: KubernetesObject,
  current: KubernetesObject | undefined,
): Promise<boolean> {
  const applied = await client.apply(object);
  if (!current) return true;
  const version = (meta: KubernetesObject['metadata']) => meta?.generation ?? meta?.resourceVersion;
  return version(applied.metadata) !== version(current.metadata);
}

const currentOf = (client: KubeClient, object: KubernetesObject) =>
  client.get<KubernetesObject>(
    object.apiVersion!,
    object.kind!,
    object.metadata?.namespace,
    object.metadata!.name!,
  );

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
  throw new DeployRefusedError(
    `a canary is running for ${services.join(', ')}; nothing was changed. Finish it first: ` +
      services
        .map((service) => `berth canary promote ${service}, or berth canary abort ${service}`)
        .join('; '),
  );
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
  if (!previous)
    return {
      name,
      result: 'failed',
      reason: reason ?? 'new service; nothing to roll back to',
      restored: false,
    };
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
    const restored = after.phase === 'complete';
    return {
      name,
      result: reason ? 'failed' : 'rolled-back',
      reason: restored ? because : `${because}; rollback did not complete: ${after.detail}`,
      rolledBackTo: revision,
      restored,
    };
  } catch (error) {
    return {
      name,
      result: 'failed',
      reason: `${because}; rollback failed: ${(error as Error).message}`,
      restored: false,
    };
  }
}

export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const { client, release } = options;
  const { system } = release;
  const objects = renderRelease(release, options.progressDeadlineSeconds);
  const changed: ObjectRef[] = [];
  const namespace = objects.find((object) => object.kind === 'Namespace');
  if (namespace && (await applyChanges(client, namespace, await currentOf(client, namespace))))
    changed.push({ kind: 'Namespace', name: system.namespace });
  const lock = await acquireDeployLock(client, system.system, system.namespace, options.lock);
  const signal = options.signal ? AbortSignal.any([options.signal, lock.lost]) : lock.lost;
  try {
    return await deployLocked({ ...options, signal }, objects, changed);
  } catch (error) {
    // Stopped because the lock was lost: that is the reason, not the abort it caused.
    throw lock.lost.aborted ? lock.lost.reason : error;
  } finally {
    const problem = await lock.release();
    if (problem) options.progress.note(problem);
  }
}

/** The deploy itself, while this process holds the system's deploy lock. */
async function deployLocked(
  options: DeployOptions,
  objects: KubernetesObject[],
  changed: ObjectRef[],
): Promise<DeployResult> {
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
  for (const name of await ensureSecrets(client, release, progress)) changed.push({ kind: 'Secret', name });
  /** Applies `object`, noting it when that changed it. */
  const applyNoting = async (object: KubernetesObject, current?: KubernetesObject) => {
    if (await applyChanges(client, object, current))
      changed.push({ kind: object.kind!, name: object.metadata!.name! });
  };

  for (const object of objects) {
    if (object.kind === 'Namespace' || workloadKinds.has(object.kind!)) continue;
    await applyNoting(object, await currentOf(client, object));
  }
  // PostgreSQL and NATS start side by side; services start once both are ready.
  const statefulSets = objects.filter((candidate) => candidate.kind === 'StatefulSet') as V1StatefulSet[];
  for (const statefulSet of statefulSets)
    await applyNoting(statefulSet, await currentOf(client, statefulSet));
  const timeoutMs = options.timeoutMs ?? 300_000;
  await Promise.all(
    statefulSets.map((statefulSet) =>
      waitForStatefulSet(client, statefulSet, { timeoutMs, progress, signal: options.signal }),
    ),
  );

  const deployments = objects.filter((object) => object.kind === 'Deployment') as V1Deployment[];
  const before = new Map<string, V1Deployment | undefined>();
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    before.set(name, await client.get<V1Deployment>('apps/v1', 'Deployment', system.namespace, name));
  }
  const rolling: string[] = [];
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    const previous = before.get(name);
    await handOverReplicas(client, deployment, previous);
    if (await applyChanges(client, deployment, previous)) {
      rolling.push(name);
      changed.push({ kind: 'Deployment', name });
    }
  }
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    if (!rolling.includes(name))
      progress.update(name, `✓ unchanged (revision ${revisionOf(before.get(name))})`);
  }

  const states = await Promise.all(
    rolling.map(async (name) => ({
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
  /** Each Deployment's revision before and after, once `finish` has read the latter. */
  const revisionChanges = () =>
    Object.fromEntries(
      deployments.map(({ metadata }) => {
        const previous = before.get(metadata!.name!);
        return [
          metadata!.name!,
          { from: previous ? revisionOf(previous) : null, to: revisions[metadata!.name!]! },
        ];
      }),
    );
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
        rolling.map((name) =>
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
    const restored = outcomes.every((outcome) => !('restored' in outcome) || outcome.restored);
    return {
      outcome: restored ? 'rolled-back' : 'failed',
      deployNumber,
      services: outcomes,
      changed,
      pruned: [],
      revisions: revisionChanges(),
      reason: failed.map(({ name, state }) => `${name}: ${state.detail}`).join('; '),
    };
  }

  const pruned = await prune(client, release, objects);
  for (const { kind, name } of pruned) progress.note(`pruned ${kind}/${name} (no longer in ${system.file})`);
  progress.end();
  await finish(true);
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    outcomes.push({
      name,
      result: rolling.includes(name) ? 'updated' : 'unchanged',
      revision: revisions[name]!,
    });
  }
  return {
    outcome: changed.length === 0 && pruned.length === 0 ? 'unchanged' : 'deployed',
    deployNumber,
    services: outcomes,
    changed,
    pruned,
    revisions: revisionChanges(),
  };
}
