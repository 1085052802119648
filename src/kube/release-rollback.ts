/**
 * A failed release undone: every object the deploy changed put back and every
 * one it created deleted (release-snapshot.ts), then each workload it put back
 * waited for, with one outcome per Deployment the deploy changed, per StatefulSet
 * that failed or went back, and per Job that failed.
 */
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { ReleaseSnapshot, RestoreResult } from './release-snapshot.ts';
import { rolloutFailure, statefulSetFailure, type WaitContext } from './release-waits.ts';
import { revisionOf } from './rollout.ts';

/** What a deploy did to one Deployment, StatefulSet or Job. */
export type ServiceOutcome =
  | { readonly name: string; readonly result: 'unchanged' | 'updated'; readonly revision: number }
  | {
      readonly name: string;
      /** `failed`: its own rollout (or StatefulSet) failed; `rolled-back`: it went back because another one failed. */
      readonly result: 'failed' | 'rolled-back';
      readonly reason: string;
      readonly rolledBackTo?: number;
      /** Whether it runs again exactly what it ran before this deploy. */
      readonly restored: boolean;
    };

export interface FailedRelease {
  /** Why each failed Deployment or StatefulSet failed, by name. */
  readonly failures: ReadonlyMap<string, string>;
  /** The StatefulSets applied (all are waited for), and the Deployments this deploy changed. */
  readonly statefulSets: readonly V1StatefulSet[];
  readonly rolling: readonly string[];
  /** Each Deployment as it was before this deploy (undefined: new). */
  readonly before: ReadonlyMap<string, V1Deployment | undefined>;
}

/**
 * Undoes the whole release (release-snapshot.ts), then waits for each workload
 * it put back; one outcome per Deployment this deploy changed and per StatefulSet
 * that failed or went back.
 */
export async function rollBackRelease(
  waits: WaitContext,
  namespace: string,
  snapshot: ReleaseSnapshot,
  failed: FailedRelease,
  signal: AbortSignal | undefined,
): Promise<{ services: ServiceOutcome[]; restore: RestoreResult }> {
  const { client, progress } = waits;
  const { failures, before } = failed;
  progress.note(
    `${[...failures.keys()].join(', ')} failed: rolling back the whole release (every object this deploy changed)`,
  );
  const restore = await snapshot.restore(client, progress);
  const restored = (kind: string, name: string) =>
    restore.restored.some((ref) => ref.kind === kind && ref.name === name);
  const outcomeOf = async (kind: 'Deployment' | 'StatefulSet', name: string): Promise<ServiceOutcome> => {
    const reason = failures.get(name);
    const because = reason ?? 'rolled back because another service failed';
    const result = reason ? 'failed' : 'rolled-back';
    const problem = restore.problems.find((line) => line.startsWith(`${kind}/${name}: `));
    if (problem) return { name, result, reason: `${because}; could not undo ${problem}`, restored: false };
    if (snapshot.created(kind, name))
      return { name, result, reason: `${because}; removed (new in this deploy)`, restored: true };
    // A StatefulSet that failed without having changed is as it was: nothing to wait for.
    if (!restored(kind, name)) return { name, result, reason: because, restored: true };
    const statefulSet =
      kind === 'StatefulSet'
        ? failed.statefulSets.find((candidate) => candidate.metadata?.name === name)
        : undefined;
    const problemAfter = statefulSet
      ? await statefulSetFailure(waits, statefulSet, signal)
      : await rolloutFailure(waits, namespace, name, `${name} (rollback)`, signal);
    return {
      name,
      result,
      reason: problemAfter ? `${because}; rollback did not complete: ${problemAfter}` : because,
      ...(statefulSet ? {} : { rolledBackTo: revisionOf(before.get(name)) }),
      restored: problemAfter === undefined,
    };
  };
  const statefulSets = failed.statefulSets
    .map((statefulSet) => statefulSet.metadata!.name!)
    .filter((name) => failures.has(name) || restored('StatefulSet', name));
  // A failed Job (the database roles') is no workload to wait for: the restore deleted it.
  const workloads = new Set([
    ...failed.statefulSets.map(({ metadata }) => metadata!.name!),
    ...failed.rolling,
  ]);
  const jobs = [...failures].filter(([name]) => !workloads.has(name));
  const services = await Promise.all([
    ...statefulSets.map((name) => outcomeOf('StatefulSet', name)),
    ...failed.rolling.map((name) => outcomeOf('Deployment', name)),
    ...jobs.map(([name, reason]): ServiceOutcome => ({ name, result: 'failed', reason, restored: true })),
  ]);
  return { services, restore };
}
