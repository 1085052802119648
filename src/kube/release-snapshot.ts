/**
 * What a deploy changed, kept so that a failed release is undone as a whole, as
 * Helm's `--atomic` does: before each apply, the object as the cluster had it;
 * on a failure, each object this deploy changed is given back what berth had set
 * on it, and each object it created is deleted.
 *
 * Restoring server-side applies, as berth's own field manager, exactly the fields
 * berth owned in the previous version (its managedFields entries): fields the
 * failed release added are then no longer applied, so the API server removes them,
 * and fields owned by others are left as they are (an autoscaler's replica count,
 * a Service's allocated clusterIPs and nodePorts, server defaults). An object
 * berth never managed (made by hand under a rendered name) gets its whole previous
 * version back instead, without what the server sets (uid, resourceVersion,
 * managedFields, creationTimestamp, generation, status).
 *
 * Order, so that old pods never start against the new configuration:
 *  1. everything but workloads (ConfigMaps, Services, RBAC, PDBs, HPAs, policies);
 *  2. StatefulSets, deleting their pods of the failed revision (a StatefulSet
 *     does not replace a pod that never became ready by itself: the "forced
 *     rollback" of the Kubernetes docs);
 *  3. Deployments (their controllers scale the previous ReplicaSets back up); one
 *     that autoscaled before keeps its count through autoscaler.ts's hand-over;
 *  4. objects this deploy created, deleted newest first (a new service's
 *     Deployment before its ConfigMap).
 * Generated Secrets are never part of it: they are created once, never applied.
 */
import { isDeepStrictEqual } from 'node:util';
import type {
  KubernetesObject,
  V1Deployment,
  V1ManagedFieldsEntry,
  V1Pod,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { holdReplicas } from './autoscaler.ts';
import type { KubeClient } from './kube-client.ts';
import { fieldManager } from './manifests.ts';
import { labelSelector, type ObjectRef } from './object-meta.ts';
import type { Progress } from './progress.ts';

interface Change {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  /** What the cluster had before this deploy; undefined: this deploy created it. */
  readonly previous: KubernetesObject | undefined;
}

export interface RestoreResult {
  /** Objects put back to their previous version, in the order restored. */
  readonly restored: ObjectRef[];
  /** Objects this deploy had created, deleted again. */
  readonly deleted: ObjectRef[];
  /** What could not be undone, one line per object (`Kind/name: why`). */
  readonly problems: string[];
}

const workloadOrder: Record<string, number> = { StatefulSet: 1, Deployment: 2 };

export class ReleaseSnapshot {
  readonly #changes: Change[] = [];

  /** Notes that this deploy changed `applied`, which the cluster had as `previous` (undefined: it is new). */
  note(applied: KubernetesObject, previous: KubernetesObject | undefined): void {
    this.#changes.push({
      apiVersion: applied.apiVersion!,
      kind: applied.kind!,
      namespace: applied.metadata?.namespace,
      name: applied.metadata!.name!,
      previous,
    });
  }

  /** Whether this deploy created the object (so restoring deletes it). */
  created(kind: string, name: string): boolean {
    return this.#changes.some((change) => change.kind === kind && change.name === name && !change.previous);
  }

  /** Undoes every change noted, in the order above; never throws for one object that cannot be undone. */
  async restore(client: KubeClient, progress: Progress): Promise<RestoreResult> {
    const result: RestoreResult = { restored: [], deleted: [], problems: [] };
    const rank = (change: Change) => workloadOrder[change.kind] ?? 0;
    const changed = this.#changes.filter((change) => change.previous).sort((a, b) => rank(a) - rank(b)); // stable: apply order within each step
    const created = this.#changes.filter((change) => !change.previous).reverse();
    for (const change of changed) {
      await attempt(result, change, async () => {
        const object = restorable(change.previous!);
        if (change.kind === 'Deployment') await keepReplicas(client, object, change.previous as V1Deployment);
        await client.apply(object);
        if (change.kind === 'StatefulSet')
          await deleteFailedRevisionPods(client, change.previous as V1StatefulSet);
        result.restored.push({ kind: change.kind, name: change.name });
      });
    }
    for (const change of created) {
      await attempt(result, change, async () => {
        await client.delete(change.apiVersion, change.kind, change.namespace, change.name);
        result.deleted.push({ kind: change.kind, name: change.name });
      });
    }
    const named = (refs: ObjectRef[]) => refs.map(({ kind, name }) => `${kind}/${name}`).join(', ');
    if (result.restored.length > 0) progress.note(`restored ${named(result.restored)}`);
    if (result.deleted.length > 0) progress.note(`deleted ${named(result.deleted)} (new in this deploy)`);
    for (const problem of result.problems) progress.note(`could not undo ${problem}`);
    return result;
  }
}

async function attempt(result: RestoreResult, change: Change, undo: () => Promise<void>): Promise<void> {
  try {
    await undo();
  } catch (error) {
    result.problems.push(`${change.kind}/${change.name}: ${(error as Error).message}`);
  }
}

/**
 * What to apply to give `previous` back: the fields berth owned in it, or, when
 * berth owned none, all of it but what the server sets.
 */
export function restorable(previous: KubernetesObject): KubernetesObject {
  const entries = (previous.metadata?.managedFields ?? []).filter((entry) => entry.manager === fieldManager);
  const identity = {
    apiVersion: previous.apiVersion,
    kind: previous.kind,
    name: previous.metadata!.name!,
    namespace: previous.metadata?.namespace,
  };
  const source =
    entries.length === 0 ? withoutServerFields(previous) : fieldsOwned(previous, mergedFields(entries));
  const object = source as KubernetesObject;
  return {
    ...object,
    apiVersion: identity.apiVersion,
    kind: identity.kind,
    metadata: {
      ...object.metadata,
      name: identity.name,
      ...(identity.namespace ? { namespace: identity.namespace } : {}),
    },
  };
}

function withoutServerFields(object: KubernetesObject): Record<string, unknown> {
  const copy = structuredClone(object) as KubernetesObject & { status?: unknown };
  delete copy.status;
  for (const field of ['uid', 'resourceVersion', 'managedFields', 'creationTimestamp', 'generation'] as const)
    delete copy.metadata?.[field];
  return copy as Record<string, unknown>;
}

type FieldSet = { [key: string]: FieldSet };

/** The union of managedFields entries' `fieldsV1` (berth's Apply and its patches, e.g. `berth scale`). */
function mergedFields(entries: readonly V1ManagedFieldsEntry[]): FieldSet {
  const merge = (into: FieldSet, from: FieldSet): FieldSet => {
    for (const [key, value] of Object.entries(from)) into[key] = merge(into[key] ?? {}, value);
    return into;
  };
  return entries.reduce<FieldSet>((all, entry) => merge(all, (entry.fieldsV1 ?? {}) as FieldSet), {});
}

/**
 * The part of `value` that `fields` names, read as the API server writes
 * managedFields: `f:<name>` a field, `k:<json>` the list item with those keys,
 * `v:<json>` the set item of that value, `i:<n>` the n-th item, `.` the item
 * itself; an empty set is the whole value (a leaf, or an atomic list or map).
 */
function fieldsOwned(value: unknown, fields: FieldSet): unknown {
  const keys = Object.keys(fields).filter((key) => key !== '.');
  if (keys.length === 0) return Object.hasOwn(fields, '.') && isObject(value) ? {} : value;
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => {
      const key = keys.find((candidate) => itemMatches(candidate, item, index));
      if (key === undefined) return [];
      const owned = fieldsOwned(item, fields[key]!);
      // A keyed item keeps its keys, or the server could not tell which item it is.
      return [key.startsWith('k:') && isObject(owned) ? { ...JSON.parse(key.slice(2)), ...owned } : owned];
    });
  }
  if (!isObject(value)) return value;
  const owned: Record<string, unknown> = {};
  for (const key of keys) {
    if (!key.startsWith('f:')) continue;
    const name = key.slice(2);
    // The API server leaves out an empty value berth applied (`data: {}`, `args: []`,
    // `value: ""`); applying null keeps it unset and berth's own, as the empty one did.
    owned[name] = Object.hasOwn(value, name) ? fieldsOwned(value[name], fields[key]!) : null;
  }
  return owned;
}

function itemMatches(key: string, item: unknown, index: number): boolean {
  const json = key.slice(2);
  if (key.startsWith('i:')) return Number(json) === index;
  if (key.startsWith('v:')) return isDeepStrictEqual(JSON.parse(json), item);
  if (!key.startsWith('k:') || !isObject(item)) return false;
  return Object.entries(JSON.parse(json) as Record<string, unknown>).every(([field, wanted]) =>
    isDeepStrictEqual(item[field], wanted),
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A Deployment to which berth gave no replica count before (it autoscaled):
 * when the failed release gave it one, restoring lets go of it and the count
 * would fall to 1. The autoscaler's hand-over manager keeps the previous count
 * first, as when the service started to autoscale.
 */
async function keepReplicas(
  client: KubeClient,
  restored: KubernetesObject & { spec?: { replicas?: number } },
  previous: V1Deployment,
): Promise<void> {
  const replicas = previous.spec?.replicas;
  if (restored.spec?.replicas === undefined && replicas !== undefined)
    await holdReplicas(client, previous, replicas);
}

/**
 * Deletes the StatefulSet's pods that do not run the revision it had before
 * this deploy: its controller recreates them from the restored template.
 */
async function deleteFailedRevisionPods(client: KubeClient, previous: V1StatefulSet): Promise<void> {
  const revision = previous.status?.updateRevision;
  if (!revision) return;
  const namespace = previous.metadata?.namespace;
  const pods = await client.list<V1Pod>(
    'v1',
    'Pod',
    namespace,
    labelSelector(previous.spec?.selector.matchLabels ?? {}),
  );
  for (const pod of pods.items) {
    if (pod.metadata?.labels?.['controller-revision-hash'] !== revision)
      await client.delete('v1', 'Pod', namespace, pod.metadata!.name!);
  }
}
