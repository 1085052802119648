/**
 * After a successful deploy: objects of the system that the release no longer
 * renders are deleted, only those labelled part-of=<system> and managed-by=berth,
 * and only of the kinds berth renders.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { httpRouteApiVersion } from './http-route.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import { managedBy, type ObjectRef } from './object-meta.ts';
import type { Release } from './release.ts';

/** Kinds berth renders inside the namespace, hence the ones it may prune. */
export const prunableKinds: ReadonlyArray<readonly [apiVersion: string, kind: string]> = [
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['batch/v1', 'Job'],
  ['v1', 'Service'],
  ['v1', 'ConfigMap'],
  ['v1', 'ServiceAccount'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['networking.k8s.io/v1', 'Ingress'],
  [httpRouteApiVersion, 'HTTPRoute'],
];

/** Kinds of CRDs a cluster need not have (the Gateway API's): without them, there is nothing of theirs to prune. */
const optionalApis = new Set([httpRouteApiVersion]);

/**
 * The objects of `system` in `namespace` that berth made (part-of and managed-by),
 * of every kind it renders, kind by kind; a kind of an optional API the cluster
 * does not serve has none.
 */
export async function berthObjects(
  client: KubeClient,
  system: string,
  namespace: string,
): Promise<
  Array<{ readonly apiVersion: string; readonly kind: string; readonly items: KubernetesObject[] }>
> {
  const selector = `app.kubernetes.io/part-of=${system},app.kubernetes.io/managed-by=${managedBy}`;
  const found = [];
  for (const [apiVersion, kind] of prunableKinds) {
    try {
      const { items } = await client.list<KubernetesObject>(apiVersion, kind, namespace, selector);
      found.push({ apiVersion, kind, items });
    } catch (error) {
      if (optionalApis.has(apiVersion) && error instanceof KubeApiError && error.status === 404) continue;
      throw error;
    }
  }
  return found;
}

/** Deletes what `rendered` no longer has; what it deleted, in order. */
export async function prune(
  client: KubeClient,
  release: Release,
  rendered: KubernetesObject[],
): Promise<ObjectRef[]> {
  const { system } = release;
  const wanted = new Set(rendered.map((object) => `${object.kind}/${object.metadata?.name}`));
  const pruned: ObjectRef[] = [];
  for (const { apiVersion, kind, items } of await berthObjects(client, system.system, system.namespace)) {
    for (const object of items) {
      const name = object.metadata!.name!;
      if (wanted.has(`${kind}/${name}`)) continue;
      await client.delete(apiVersion, kind, system.namespace, name);
      pruned.push({ kind, name });
    }
  }
  return pruned;
}
