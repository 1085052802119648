/**
 * What fails a rollout, decided on the objects alone (no I/O, so each rule is
 * tested on fixtures, rollout-failures.test.ts): a pod of the new template that
 * cannot start or has restarted too often, pods the API server refuses to
 * create, and a rollout that goes too long without another pod becoming
 * available. rollout.ts reads the objects and applies these rules.
 *
 * The limits travel on the workload itself (annotations that workload.ts renders
 * from berth.yaml `rollout`), so every command that waits for a rollout — deploy,
 * its rollback, scale, canary, `berth rollout status` — judges it the same way.
 */
import type { CoreV1Event, V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { SYSTEM_DEFAULTS } from '../config/system-file.ts';
import type { RolloutSpec } from '../config/system-spec.ts';

/** Deployment annotation: restarts of a new pod that fail its rollout (berth.yaml `rollout.restartLimit`). */
export const restartLimitAnnotation = 'berth.dev/restart-limit';
/** Deployment annotation: seconds a rollout may go without another pod becoming available. */
const podTimeoutAnnotation = 'berth.dev/pod-timeout-seconds';

/**
 * The annotations that carry `rollout` on a Deployment. On its metadata, not
 * its pod template: changing a limit changes how the next rollout is judged,
 * it does not start one.
 */
export function rolloutAnnotations(rollout: RolloutSpec): Record<string, string> {
  return {
    [restartLimitAnnotation]: String(rollout.restartLimit),
    ...(rollout.podTimeoutSeconds === undefined
      ? {}
      : { [podTimeoutAnnotation]: String(rollout.podTimeoutSeconds) }),
  };
}

export interface RolloutLimits {
  readonly restartLimit: number;
  /** How long a rollout may go without another new pod becoming available. */
  readonly podTimeoutMs: number;
}

type Workload = V1Deployment | V1StatefulSet;

/**
 * The limits a workload's annotations set; `timeoutMs` (the CLI's `--timeout`)
 * where berth.yaml sets no pod timeout, and berth's default restart limit for
 * workloads without the annotation (the StatefulSets, or a Deployment applied
 * by an older berth).
 */
export function limitsOf(workload: Workload, timeoutMs: number): RolloutLimits {
  const annotations = workload.metadata?.annotations ?? {};
  const number = (key: string) => {
    const value = Number(annotations[key]);
    return Number.isInteger(value) && value > 0 ? value : undefined;
  };
  const podTimeoutSeconds = number(podTimeoutAnnotation);
  return {
    restartLimit: number(restartLimitAnnotation) ?? SYSTEM_DEFAULTS.rollout.restartLimit,
    podTimeoutMs: podTimeoutSeconds === undefined ? timeoutMs : podTimeoutSeconds * 1000,
  };
}

export interface PodProblem {
  /** True when waiting longer cannot help (restart limit reached, image that cannot be had, pods refused). */
  readonly fatal: boolean;
  readonly detail: string;
}

/** Waiting reasons that no retry fixes: the image reference itself is wrong, or the pod's config is missing. */
const hopeless = new Set(['ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError']);

/** Waiting reasons of a pull the kubelet retries (with back-off). */
const pullRetries = new Set(['ErrImagePull', 'ImagePullBackOff']);

/**
 * What registries (containerd, CRI-O) answer for an image that is not there or
 * not for this node: a retry gets the same answer. Anything else (a timeout, a
 * 5xx, a rate limit) may pass, and is left to the pod timeout.
 */
const imageNotThere =
  /not found|manifest unknown|pull access denied|repository does not exist|unauthorized|denied/i;

/** What to do when a node cannot get an image: it was never pushed where the node pulls from, or never loaded. */
function pullHint(image: string): string {
  return `the node cannot get ${image}: push it (berth build --push) to a registry the node can pull from, or load it into the node (berth build --load), then deploy again`;
}

/**
 * Whether a pod has proven itself: ready for `minReadySeconds`, as the
 * ReplicaSet controller counts a pod available. Its earlier restarts are then
 * history, not this rollout's (a scale or `berth rollout status` must not fail
 * on last month's restarts of a pod that serves).
 */
function isAvailable(pod: V1Pod, minReadySeconds: number, now: number): boolean {
  const ready = pod.status?.conditions?.find((condition) => condition.type === 'Ready');
  if (ready?.status !== 'True') return false;
  const since = ready.lastTransitionTime ? new Date(ready.lastTransitionTime).getTime() : now;
  return now - since >= minReadySeconds * 1000;
}

/**
 * Why pods of a workload's current template (`image`; others are old pods, or
 * a canary's that the same selector matches) are not ready: the first fatal
 * problem if any, else the most telling other one (a crash loop still under
 * its restart limit, a pull being retried, unschedulable, not ready), so a
 * failed rollout names a cause and not just a count.
 */
export function podProblemOf(
  pods: readonly V1Pod[],
  image: string | undefined,
  restartLimit: number,
  minReadySeconds: number,
  now: number,
): PodProblem | undefined {
  let startProblem: PodProblem | undefined;
  let other: PodProblem | undefined;
  for (const pod of pods) {
    if (pod.spec?.containers[0]?.image !== image || pod.metadata?.deletionTimestamp) continue;
    const name = `pod ${pod.metadata?.name}`;
    const settled = isAvailable(pod, minReadySeconds, now);
    for (const container of pod.status?.containerStatuses ?? []) {
      const waiting = container.state?.waiting;
      const reason = waiting?.reason ?? '';
      const message = waiting?.message ? ` (${waiting.message})` : '';
      if (hopeless.has(reason) || (pullRetries.has(reason) && imageNotThere.test(waiting?.message ?? ''))) {
        const hint = reason === 'CreateContainerConfigError' ? '' : `; ${pullHint(container.image)}`;
        return { fatal: true, detail: `cannot start: ${name}: ${reason}${message}${hint}` };
      }
      if (pullRetries.has(reason)) {
        startProblem ??= {
          fatal: false,
          detail: `cannot start yet: ${name}: ${reason}${message}; ${pullHint(container.image)}`,
        };
        continue;
      }
      const restarts = container.restartCount ?? 0;
      if (settled || restarts === 0) continue;
      const state = reason ? `${reason}${message}` : `${container.lastState?.terminated?.reason ?? 'exited'}`;
      const detail = `crash loop: ${name}: ${state}, restarted ${restarts} times (limit ${restartLimit})`;
      if (restarts >= restartLimit) return { fatal: true, detail };
      startProblem ??= { fatal: false, detail };
    }
    const conditions = pod.status?.conditions ?? [];
    const scheduled = conditions.find((condition) => condition.type === 'PodScheduled');
    if (!other && scheduled?.status === 'False') {
      other = {
        fatal: false,
        detail: `${name} not scheduled: ${scheduled.reason ?? ''} ${scheduled.message ?? ''}`.trim(),
      };
    }
    const ready = conditions.find((condition) => condition.type === 'Ready');
    if (!other && scheduled?.status === 'True' && ready?.status === 'False') {
      other = { fatal: false, detail: `${name} not ready${ready.message ? `: ${ready.message}` : ''}` };
    }
  }
  return startProblem ?? other;
}

/**
 * Pods the API server refuses to create (Pod Security admission, a
 * ResourceQuota, a webhook), as the Deployment's `ReplicaFailure` condition
 * says: the controller sets it from its failed create and clears it once a
 * create succeeds, so it is never stale. Fatal: admission refuses the same pod
 * again, and with `maxUnavailable: 0` no old pod goes to make room.
 */
export function refusalOf(deployment: V1Deployment): PodProblem | undefined {
  const failure = deployment.status?.conditions?.find(
    (condition) => condition.type === 'ReplicaFailure' && condition.status === 'True',
  );
  if (!failure) return undefined;
  return { fatal: true, detail: `pods are refused: ${failure.message ?? failure.reason ?? 'FailedCreate'}` };
}

/**
 * Refusals a StatefulSet's controller reports: it sets no condition, only
 * `FailedCreate` events. An event can be left from an earlier attempt (the same
 * StatefulSet refused yesterday, its namespace fixed since), so only what
 * happens during the wait counts: the events seen first are the baseline, and
 * a refusal is one that appears or repeats (its count or time moves) after it.
 * The controller retries a refused create with back-off, so a refusal that
 * persists repeats soon. Clock-free: no local time is compared with the server's.
 */
export class RefusalEvents {
  #seen: Map<string, string> | undefined;

  /** Notes this poll's FailedCreate events; a refusal if one is new since the first poll. */
  observe(events: readonly CoreV1Event[]): PodProblem | undefined {
    const marks = new Map(events.map((event) => [event.metadata?.uid ?? '', markOf(event)]));
    const seen = this.#seen;
    this.#seen = marks;
    if (!seen) return undefined;
    const fresh = events.find((event) => seen.get(event.metadata?.uid ?? '') !== markOf(event));
    return fresh && { fatal: true, detail: `pods are refused: ${fresh.message ?? fresh.reason}` };
  }
}

/** What changes when the same event happens again (legacy events count up, new ones have a series). */
function markOf(event: CoreV1Event): string {
  const time = event.series?.lastObservedTime ?? event.lastTimestamp ?? event.eventTime;
  return `${event.count ?? event.series?.count ?? 1} ${time ? new Date(time).toISOString() : ''}`;
}

/**
 * How far a Deployment's rollout is, as Kubernetes counts progress for its
 * progress deadline: pods updated, ready, available, and old pods gone (negated,
 * so that every mark grows with progress). Counting a ready pod matters with a
 * long bake: a pod that is ready but not yet available for `minReadySeconds` is
 * progress, not a stall.
 */
export function progressMarks(deployment: V1Deployment): number[] {
  const status = deployment.status ?? {};
  const updated = status.updatedReplicas ?? 0;
  return [
    updated,
    status.readyReplicas ?? 0,
    status.availableReplicas ?? 0,
    updated - (status.replicas ?? 0),
  ];
}

/**
 * The pod timeout: it starts again with each step of progress (any mark higher
 * than at the last look: another pod updated, ready or available, another old
 * one gone), so a long rollout that keeps progressing never times out, and one
 * that stalls does so `timeoutMs` after its last step.
 */
export class ProgressTimer {
  readonly #timeoutMs: number;
  #marks: readonly number[] | undefined;
  #since: number;

  constructor(timeoutMs: number, now: number) {
    this.#timeoutMs = timeoutMs;
    this.#since = now;
  }

  /** Notes how far the rollout is at `now` (marks that each grow with progress). */
  observe(marks: readonly number[], now: number): void {
    const previous = this.#marks;
    if (!previous || marks.some((mark, i) => mark > (previous[i] ?? Number.NEGATIVE_INFINITY)))
      this.#since = now;
    this.#marks = marks;
  }

  /** Seconds since the last step, once that is longer than the timeout; else undefined. */
  stalledFor(now: number): number | undefined {
    const elapsed = now - this.#since;
    return elapsed >= this.#timeoutMs ? Math.round(elapsed / 1000) : undefined;
  }
}
