/**
 * A deploy's server-side apply, and whether it changed the object: what the
 * deploy result lists as changed and the release snapshot notes for a rollback.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client.ts';

/**
 * Server-side applies `object` over `current` (what the cluster had); whether
 * that changed it: its generation, for kinds that have one (status updates by
 * controllers do not count), else its resourceVersion; and its labels and
 * annotations, which move no generation (a PDB or StatefulSet whose labels
 * changed has changed, and a rollback must put them back).
 */
export async function applyChanges(
  client: KubeClient,
  object: KubernetesObject,
  current: KubernetesObject | undefined,
): Promise<boolean> {
  const applied = await client.apply(object);
  if (!current) return true;
  const version = (meta: KubernetesObject['metadata']) => meta?.generation ?? meta?.resourceVersion;
  const [after, before] = [applied.metadata, current.metadata];
  return (
    version(after) !== version(before) ||
    !isDeepStrictEqual(after?.labels ?? {}, before?.labels ?? {}) ||
    !isDeepStrictEqual(after?.annotations ?? {}, before?.annotations ?? {})
  );
}

/** The object as the cluster has it now (undefined: it does not exist). */
export const currentOf = (client: KubeClient, object: KubernetesObject) =>
  client.get<KubernetesObject>(
    object.apiVersion!,
    object.kind!,
    object.metadata?.namespace,
    object.metadata!.name!,
  );
