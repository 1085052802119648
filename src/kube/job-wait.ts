/**
 * Waiting for a Job a deploy runs (the database roles' one): done when the Job
 * completes; failed when it says so (its tries or its deadline used up), or at
 * once when its pod cannot start at all (an image no node can get, a missing
 * Secret). The reason carries the pod's termination message: the container's
 * last log lines, e.g. psql's error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client.ts';
import type { Progress } from './progress.ts';
import { podProblemOf } from './rollout-failures.ts';

/** The failed pod's own words: its termination message (logs on error), its reason and exit code. */
function lastFailure(pods: readonly V1Pod[]): string | undefined {
  const failed = pods
    .filter((pod) => pod.status?.phase === 'Failed')
    .sort((a, b) => ((a.metadata?.creationTimestamp ?? '') < (b.metadata?.creationTimestamp ?? '') ? 1 : -1));
  const terminated = failed[0]?.status?.containerStatuses?.[0]?.state?.terminated;
  if (!terminated) return undefined;
  const message = terminated.message?.trim();
  return `pod ${failed[0]!.metadata?.name}: ${terminated.reason ?? 'failed'} (exit ${terminated.exitCode})${message ? `: ${message}` : ''}`;
}

/** Why the Job did not complete, or undefined once it has; `label` names it in progress lines. */
export async function jobFailure(
  client: KubeClient,
  job: V1Job,
  options: { readonly progress: Progress; readonly label: string; readonly signal?: AbortSignal },
): Promise<string | undefined> {
  const { namespace, name } = job.metadata!;
  const hint = `kubectl -n ${namespace} logs job/${name}`;
  while (true) {
    const current = await client.get<V1Job>('batch/v1', 'Job', namespace, name!);
    const conditions = current?.status?.conditions ?? [];
    const holds = (type: string) => conditions.find((item) => item.type === type && item.status === 'True');
    if (holds('Complete')) {
      options.progress.update(options.label, '✓ done');
      return undefined;
    }
    const pods = (await client.list<V1Pod>('v1', 'Pod', namespace, `batch.kubernetes.io/job-name=${name}`))
      .items;
    const failed = holds('Failed');
    if (failed) {
      const why = lastFailure(pods);
      return (
        `job ${name} failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim() +
        (why ? `; ${why}` : '') +
        `; see ${hint}`
      );
    }
    const image = job.spec?.template.spec?.containers[0]?.image;
    const problem = podProblemOf(pods, image, Number.POSITIVE_INFINITY, 0, Date.now());
    if (problem?.fatal) return `job ${name}: ${problem.detail}`;
    const tries = (current?.status?.failed ?? 0) + (current?.status?.active ?? 0);
    options.progress.update(
      options.label,
      `… running${tries > 1 ? ` (try ${tries})` : ''}${problem ? `: ${problem.detail}` : ''}`,
    );
    await sleep(1000, undefined, { signal: options.signal });
  }
}
