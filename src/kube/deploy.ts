/**
 * `berth deploy`: apply a release and see it through.
 *
 *  1. Namespace; a running canary stops the deploy (finish it first); then every
 *     object is validated by a server-side dry run (strict fields): if the API
 *     server rejects one, nothing changes.
 *  2. Generated Secrets (created once, values never overwritten, never rendered).
 *  3. Everything but workloads (RBAC, ConfigMaps, Services, PDBs, HPAs, policies),
 *     server-side apply.
 *  4. Stateful dependencies (PostgreSQL, NATS) applied and waited for; then the
 *     Job that gives each service its own database role (database-roles.ts).
 *  5. Deployments applied (an autoscaled one's replicas handed over first:
 *     autoscaler.ts); each whose spec changed is watched with live progress.
 *  6. If a wait fails (a StatefulSet that cannot become ready, a failed Job, a rollout's progress
 *     deadline, crash loop, never ready), the other waits stop at once and the
 *     whole release is undone (release-snapshot.ts): every object this deploy
 *     changed gets its previous version back, configuration before workloads,
 *     and every object it created is deleted. The restored workloads are waited
 *     for, the result says why, per service, and the deploy is recorded in the
 *     history as not ok.
 *  7. Once every rollout completed, the services this deploy changed bake for
 *     `rollout.bakeSeconds` (or `bakeSeconds`): one that restarts, goes not ready
 *     or serves too many errors (release-bake.ts) rolls the whole release back as
 *     in 6, with the reason `bake: …`.
 *  8. On success, objects the system no longer renders are pruned (prune.ts),
 *     and the deploy is recorded.
 * Re-applying an unchanged release changes no spec, so no new ReplicaSet appears,
 * and the outcome is `unchanged`. What each apply changed is noted for the result.
 * A deploy refused before it starts (lock held, canary running) or stopped by an
 * error throws; the CLI names those outcomes `refused` and `failed`.
 */
import type { KubernetesObject, V1Deployment, V1Job, V1StatefulSet } from '@kubernetes/client-node';
import { applyChanges, currentOf } from './apply-changes.ts';
import { handOverReplicas } from './autoscaler.ts';
import type { GateOptions } from './canary-analysis.ts';
import { acquireDeployLock, type DeployLockOptions, DeployRefusedError } from './deploy-lock.ts';
import { ensureSecrets } from './deploy-secrets.ts';
import { renderRelease, validate } from './dry-run.ts';
import { jobFailure } from './job-wait.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import type { ObjectRef } from './object-meta.ts';
import type { Progress } from './progress.ts';
import { prune } from './prune.ts';
import type { Release } from './release.ts';
import { type BakeResult, bakeRelease } from './release-bake.ts';
import { readHistory, recordHistory } from './release-history.ts';
import { rollBackRelease, type ServiceOutcome } from './release-rollback.ts';
import { ReleaseSnapshot } from './release-snapshot.ts';
import {
  rolloutFailure,
  statefulSetFailure,
  type WaitContext,
  waitUntilFirstFailure,
} from './release-waits.ts';
import { revisionOf } from './rollout.ts';

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
  /** Every changed service's bake, over berth.yaml's `rollout.bakeSeconds`; and its error-rate gate. */
  readonly bakeSeconds?: number;
  readonly bakeGate?: GateOptions;
}

/** How a deploy that ran ended: `rolled-back` if every object it changed is back as before, else `failed`. */
export type DeployOutcome = 'deployed' | 'unchanged' | 'rolled-back' | 'failed';

export interface DeployResult {
  readonly outcome: DeployOutcome;
  readonly deployNumber: number;
  readonly services: ServiceOutcome[];
  /** What this deploy created or changed (generated Secrets too), in the order it applied them. */
  readonly changed: ObjectRef[];
  readonly pruned: ObjectRef[];
  /** After a failure: the objects put back to their version before this deploy, configuration first. */
  readonly restored: ObjectRef[];
  /** After a failure: the objects this deploy had created, deleted again. */
  readonly deleted: ObjectRef[];
  /** Each Deployment's revision before (null: it is new) and after this deploy. */
  readonly revisions: Record<string, { readonly from: number | null; readonly to: number }>;
  /** Why it rolled back, per failed service or StatefulSet. */
  readonly reason?: string;
  /** The post-deploy bake, once every rollout completed (none: nothing changed bakes). */
  readonly bake?: BakeResult;
}

/** Applied after the configuration objects, each kind in its own step (a Job runs once PostgreSQL is ready). */
/** An object the API server refused to apply, by `<Kind>/<name>`, with its reason. */
class ApplyRefused extends Error {
  readonly ref: string;
  readonly reason: string;
  constructor(object: KubernetesObject, error: KubeApiError) {
    super(error.message);
    this.ref = `${object.kind}/${object.metadata!.name}`;
    this.reason = `the API server refused it after the dry run had passed: ${error.status} ${error.reason}: ${error.detail}`;
  }
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'Job']);

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

const waitsOf = (options: DeployOptions): WaitContext => ({
  client: options.client,
  progress: options.progress,
  timeoutMs: options.timeoutMs ?? 300_000,
});

export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const { client, release } = options;
  const { system } = release;
  const objects = renderRelease(release, options.progressDeadlineSeconds);
  const changed: ObjectRef[] = [];
  const snapshot = new ReleaseSnapshot();
  const namespace = objects.find((object) => object.kind === 'Namespace');
  if (namespace) {
    const current = await currentOf(client, namespace);
    if (await applyChanges(client, namespace, current)) {
      changed.push({ kind: 'Namespace', name: system.namespace });
      // A namespace this deploy created is never deleted again: the lock, the history and the Secrets live in it.
      if (current) snapshot.note(namespace, current);
    }
  }
  const lock = await acquireDeployLock(client, system.system, system.namespace, options.lock);
  const signal = options.signal ? AbortSignal.any([options.signal, lock.lost]) : lock.lost;
  try {
    return await deployLocked({ ...options, signal }, objects, changed, snapshot);
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
  snapshot: ReleaseSnapshot,
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
  /**
   * Applies `object` over `current`; when that changed it, notes it for the result and for a rollback.
   * One the API server refuses although the dry run passed (a quota that the release's objects
   * exceed together, a webhook, a race) stops the deploy: ApplyRefused, and the release is undone.
   */
  const applyNoting = async (object: KubernetesObject, current: KubernetesObject | undefined) => {
    let applied: boolean;
    try {
      applied = await applyChanges(client, object, current);
    } catch (error) {
      if (error instanceof KubeApiError) throw new ApplyRefused(object, error);
      throw error;
    }
    if (!applied) return false;
    changed.push({ kind: object.kind!, name: object.metadata!.name! });
    snapshot.note(object, current);
    return true;
  };

  const history = await readHistory(client, system.system, system.namespace);
  const deployNumber = (history.at(-1)?.deploy ?? 0) + 1;
  const waits = waitsOf(options);
  const statefulSets = objects.filter((candidate) => candidate.kind === 'StatefulSet') as V1StatefulSet[];
  const deployments = objects.filter((object) => object.kind === 'Deployment') as V1Deployment[];
  const before = new Map<string, V1Deployment | undefined>();
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
  /** Reads the revision every Deployment runs now and records the deploy with them. */
  const finish = async (ok: boolean, undone?: boolean) => {
    progress.end();
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
      ...(undone === undefined ? {} : { undone }),
    });
  };
  /** Undoes the release after `failures`, records it, and says how far it got back. */
  const rolledBack = async (
    failures: ReadonlyMap<string, string>,
    rolling: readonly string[],
    bake?: BakeResult,
  ): Promise<DeployResult> => {
    const { services, restore } = await rollBackRelease(
      waits,
      system.namespace,
      snapshot,
      { failures, statefulSets, rolling, before },
      options.signal,
    );
    const back =
      restore.problems.length === 0 &&
      services.every((outcome) => !('restored' in outcome) || outcome.restored);
    await finish(false, back);
    return {
      outcome: back ? 'rolled-back' : 'failed',
      deployNumber,
      services,
      changed,
      pruned: [],
      restored: restore.restored,
      deleted: restore.deleted,
      revisions: revisionChanges(),
      reason: `${bake ? 'bake: ' : ''}${[...failures].map(([name, detail]) => `${name}: ${detail}`).join('; ')}`,
      ...(bake ? { bake } : {}),
    };
  };

  const rolling: string[] = [];
  try {
    return await applyAndWait();
  } catch (error) {
    if (error instanceof ApplyRefused) return await rolledBack(new Map([[error.ref, error.reason]]), rolling);
    throw error;
  }

  async function applyAndWait(): Promise<DeployResult> {
    for (const object of objects) {
      if (object.kind === 'Namespace' || workloadKinds.has(object.kind!)) continue;
      await applyNoting(object, await currentOf(client, object));
    }
    // PostgreSQL and NATS start side by side; services start once both are ready.
    for (const statefulSet of statefulSets)
      await applyNoting(statefulSet, await currentOf(client, statefulSet));
    const dependencyFailures = await waitUntilFirstFailure(
      statefulSets.map((statefulSet) => statefulSet.metadata!.name!),
      (name, signal) =>
        statefulSetFailure(
          waits,
          statefulSets.find((candidate) => candidate.metadata?.name === name)!,
          signal,
        ),
      options.signal,
    );
    if (dependencyFailures.size > 0) return await rolledBack(dependencyFailures, []);
    // The services' database roles, before any service logs in with one (database-roles.ts).
    const jobs = objects.filter((object) => object.kind === 'Job') as V1Job[];
    for (const job of jobs) await applyNoting(job, await currentOf(client, job));
    const jobFailures = await waitUntilFirstFailure(
      jobs.map((job) => job.metadata!.name!),
      (name, signal) =>
        jobFailure(client, jobs.find((job) => job.metadata?.name === name)!, {
          progress,
          label: name,
          signal,
        }),
      options.signal,
    );
    if (jobFailures.size > 0) return await rolledBack(jobFailures, []);

    for (const deployment of deployments) {
      const name = deployment.metadata!.name!;
      before.set(name, await client.get<V1Deployment>('apps/v1', 'Deployment', system.namespace, name));
    }
    for (const deployment of deployments) {
      const name = deployment.metadata!.name!;
      const previous = before.get(name);
      await handOverReplicas(client, deployment, previous);
      if (await applyNoting(deployment, previous)) rolling.push(name);
    }
    for (const deployment of deployments) {
      const name = deployment.metadata!.name!;
      if (!rolling.includes(name))
        progress.update(name, `✓ unchanged (revision ${revisionOf(before.get(name))})`);
    }

    const failures = await waitUntilFirstFailure(
      rolling,
      (name, signal) => rolloutFailure(waits, system.namespace, name, name, signal),
      options.signal,
    );
    if (failures.size > 0) return await rolledBack(failures, rolling);
    const { bake, failures: degraded } = await bakeRelease({
      ...options,
      system,
      services: rolling,
      seconds: options.bakeSeconds,
      gate: options.bakeGate,
    });
    if (degraded.size > 0) return await rolledBack(degraded, rolling, bake);

    const pruned = await prune(client, release, objects);
    for (const { kind, name } of pruned)
      progress.note(`pruned ${kind}/${name} (no longer in ${system.file})`);
    await finish(true);
    const services: ServiceOutcome[] = deployments.map(({ metadata }) => ({
      name: metadata!.name!,
      result: rolling.includes(metadata!.name!) ? 'updated' : 'unchanged',
      revision: revisions[metadata!.name!]!,
    }));
    return {
      outcome: changed.length === 0 && pruned.length === 0 ? 'unchanged' : 'deployed',
      deployNumber,
      services,
      changed,
      pruned,
      restored: [],
      deleted: [],
      revisions: revisionChanges(),
      ...(bake.services.length > 0 ? { bake } : {}),
    };
  }
}
