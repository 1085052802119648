/**
 * The waits of a deploy, each ending in why it failed (undefined: it did not):
 * a StatefulSet's, a Deployment's rollout, and all of a kind side by side,
 * stopping at the first failure.
 */
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client.ts';
import type { Progress } from './progress.ts';
import { waitForRollout, waitForStatefulSet } from './rollout.ts';

export interface WaitContext {
  readonly client: KubeClient;
  readonly progress: Progress;
  /** How long each wait may take before it counts as failed. */
  readonly timeoutMs: number;
}

/**
 * Runs `wait` for every name side by side; the first to fail stops the others at
 * once (their signal aborts), since one failure undoes the whole release anyway.
 * What failed and why, by name; a wait stopped that way is no failure of its own.
 */
export async function waitUntilFirstFailure(
  names: readonly string[],
  wait: (name: string, signal: AbortSignal) => Promise<string | undefined>,
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  const stop = new AbortController();
  const stopped = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const failures = new Map<string, string>();
  await Promise.all(
    names.map(async (name) => {
      const failure = await wait(name, stopped);
      if (failure === undefined || stop.signal.aborted) return;
      failures.set(name, failure);
      stop.abort();
    }),
  );
  return failures;
}

/** Why a StatefulSet did not become ready, or undefined once it is. */
export const statefulSetFailure = (
  options: WaitContext,
  statefulSet: V1StatefulSet,
  signal: AbortSignal | undefined,
): Promise<string | undefined> =>
  waitForStatefulSet(options.client, statefulSet, {
    timeoutMs: options.timeoutMs,
    progress: options.progress,
    signal,
  }).then(
    () => undefined,
    (error: Error) => error.message,
  );

/** Why a Deployment's rollout failed, or undefined once it completed. */
export async function rolloutFailure(
  options: WaitContext,
  namespace: string,
  name: string,
  label: string,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const state = await waitForRollout(options.client, namespace, name, {
    timeoutMs: options.timeoutMs,
    progress: options.progress,
    label,
    signal,
  });
  return state.phase === 'failed' ? state.detail : undefined;
}
