/**
 * What a deploy applies, rendered once, and the API server's judgement of it: a
 * server-side dry run with strict field validation (`berth deploy --dry-run`,
 * and the first step of every deploy).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { refusedClaimChange } from './claim-changes.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import { renderManifests } from './manifests.ts';
import type { Release } from './release.ts';

/** What a deploy applies and a dry run validates: the same objects, rendered once here. */
export function renderRelease(
  release: Release,
  progressDeadlineSeconds: number | undefined,
): KubernetesObject[] {
  return renderManifests(release.system, { tags: release.tags, progressDeadlineSeconds });
}

function key(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata?.name}`;
}

export interface DryRunResult {
  readonly problems: Array<{ object: string; error: string }>;
  /** The namespace, when the dry run had to create it: namespaced objects can only be validated in one that exists. */
  readonly createdNamespace?: string;
}

/**
 * Server-side dry run (strict field validation) of each object, all at once; the
 * problems, in order. A StatefulSet whose volume claims changed is refused by the
 * API server in words that do not say what to do: claim-changes.ts says it instead.
 */
export async function validate(
  client: KubeClient,
  objects: readonly KubernetesObject[],
): Promise<Array<{ object: string; error: string }>> {
  const results = await Promise.all(
    objects.map(async (object) => {
      const claimChange = await refusedClaimChange(client, object);
      if (claimChange) return { object: key(object), error: claimChange };
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
