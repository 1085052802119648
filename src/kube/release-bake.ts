/**
 * The post-deploy bake: once every rollout of a deploy completed, `berth deploy`
 * watches each service it changed for that service's `rollout.bakeSeconds` (or
 * `--bake`) before it counts the release as deployed, and a degraded service
 * rolls the whole release back (deploy.ts, as a failed rollout does). A release
 * degrades when, during the bake:
 *  - a pod of its new template restarts (its restart count grows; restarts
 *    before the bake were the rollout's to judge, under `restartLimit`), or is
 *    not ready, or fewer of its pods are ready than the Deployment wants;
 *  - where its pods serve `/metrics`, its server-side error rate over the bake
 *    is above `maxErrorRate` with at least `minRequests` requests: the canary's
 *    gate (canary-analysis.ts), so the same codes count as errors (internal,
 *    unknown, unavailable, data_loss, deadline_exceeded).
 * The decisions (PodWatch, ErrorRateWatch) are pure and unit-tested on fixtures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { SystemFile } from '../config/system-file.ts';
import {
  type Counts,
  describeCounts,
  type GateOptions,
  groupDelta,
  judge,
  type Reading,
  readGroups,
} from './canary-analysis.ts';
import type { KubeClient } from './kube-client.ts';
import { labelSelector, selectorFor } from './object-meta.ts';
import type { Progress } from './progress.ts';
import { waitUntilFirstFailure } from './release-waits.ts';
import { limitsOf, podProblemOf } from './rollout-failures.ts';

/** The error-rate gate of a bake: the canary's defaults (`berth canary --max-error-rate 5 --min-requests 20`). */
const defaultBakeGate: GateOptions = { maxErrorRate: 5, minRequests: 20 };

/**
 * One service's new pods across the polls of its bake. The first poll is the
 * baseline: a container that restarted before it counts only if it restarts
 * again; a pod first seen later (a replacement) counts from zero.
 */
export class PodWatch {
  readonly #restarts = new Map<string, number>();
  #baselined = false;
  /** What the last poll saw, for the progress line. */
  watching = '';

  /** Why `deployment`'s release degraded, judging `pods` (its selector's) at `now`; undefined: healthy. */
  observe(deployment: V1Deployment, pods: readonly V1Pod[], now: number): string | undefined {
    const image = deployment.spec?.template.spec?.containers[0]?.image;
    const current = pods.filter(
      (pod) => pod.spec?.containers[0]?.image === image && !pod.metadata?.deletionTimestamp,
    );
    const baseline = !this.#baselined;
    this.#baselined = true;
    const want = deployment.spec?.replicas ?? 1;
    this.watching = `${current.length} pod${current.length === 1 ? '' : 's'} (restarts, readiness)`;
    for (const pod of current) {
      const name = `pod ${pod.metadata?.name}`;
      for (const container of pod.status?.containerStatuses ?? []) {
        const key = `${pod.metadata?.uid}/${container.name}`;
        const count = container.restartCount ?? 0;
        const before = this.#restarts.get(key) ?? (baseline ? count : 0);
        this.#restarts.set(key, before);
        if (count > before) {
          const last = container.lastState?.terminated?.reason ?? 'exited';
          return `${name} restarted during the bake (${last}; ${count - before} time${count - before === 1 ? '' : 's'})`;
        }
      }
      const ready = pod.status?.conditions?.find((condition) => condition.type === 'Ready');
      if (ready?.status !== 'True') {
        // The rollout's rules name the cause (a crash loop, a pull, unscheduled) where they know it.
        // (its plain "not ready" adds nothing to the readiness condition's own message).
        const limit = limitsOf(deployment, 0).restartLimit;
        const known = podProblemOf([pod], image, limit, 0, now)?.detail;
        const cause = known && !known.startsWith(`${name} not ready`) ? known : ready?.message;
        return `${name} is not ready${cause ? `: ${cause}` : ''}`;
      }
    }
    // Every pod left is ready: fewer than wanted means one went (evicted, deleted) and none replaced it yet.
    if (current.length < want) return `only ${current.length}/${want} pods of the new release are ready`;
    return undefined;
  }
}

/**
 * One service's error rate over its bake, from readings of its pods' `/metrics`
 * (canary-analysis.ts readGroups). A reading runs in the background, one at a
 * time: a pod proxy that is slow to answer never holds up the pod checks.
 */
export class ErrorRateWatch {
  readonly #read: () => Promise<Reading>;
  readonly #intervalMs: number;
  #start: Reading | undefined;
  #latest: Reading | undefined;
  #pending: Promise<void> | undefined;
  #lastStarted = Number.NEGATIVE_INFINITY;

  constructor(read: () => Promise<Reading>, intervalMs: number) {
    this.#read = read;
    this.#intervalMs = intervalMs;
  }

  /** Starts a reading at `now` if none is under way and the last one started an interval ago. */
  poll(now: number): void {
    if (this.#pending || now - this.#lastStarted < this.#intervalMs) return;
    this.#lastStarted = now;
    this.#pending = this.#read()
      .then((reading) => {
        this.#start ??= reading;
        this.#latest = reading;
      })
      .catch(() => undefined)
      .finally(() => {
        this.#pending = undefined;
      });
  }

  /** The reading under way, if any (tests wait for it). */
  settled(): Promise<void> {
    return this.#pending ?? Promise.resolve();
  }

  /** Requests and server errors since the first reading; undefined until two readings with metrics. */
  counts(): Counts | undefined {
    if (!this.#start || !this.#latest || this.#latest === this.#start) return undefined;
    if (this.#latest.stable.size === 0) return undefined;
    return groupDelta(this.#start.stable, this.#latest.stable);
  }

  /** Pods whose metrics the latest reading could not get, with why. */
  unreadable(): readonly string[] {
    return this.#latest?.unreadable ?? [];
  }

  /** The canary's gate on the counts so far: why the release degraded, or undefined. */
  problem(gate: GateOptions): string | undefined {
    const counts = this.counts();
    if (!counts) return undefined;
    const none = { requests: 0, errors: 0 };
    if (judge(counts, none, gate).verdict !== 'abort') return undefined;
    return `error rate above ${gate.maxErrorRate}%: ${describeCounts(counts)}`;
  }

  /** For the progress line: what the error rate is, or why it is not known. */
  summary(): string {
    const counts = this.counts();
    if (counts) return `error rate: ${describeCounts(counts)}`;
    if (this.#latest && this.#latest.stable.size === 0) return 'error rate: no metrics';
    return 'error rate: reading metrics';
  }
}

interface BakeOptions {
  readonly client: KubeClient;
  readonly system: SystemFile;
  readonly progress: Progress;
  /** The services this deploy changed. */
  readonly services: readonly string[];
  /** Every service's bake (`--bake`); else each one's `rollout.bakeSeconds`. */
  readonly seconds?: number;
  readonly gate?: GateOptions;
  readonly pollMs?: number;
  readonly metricsIntervalMs?: number;
  readonly signal?: AbortSignal;
}

interface ServiceBake {
  readonly name: string;
  readonly seconds: number;
  readonly result: 'healthy' | 'degraded' | 'stopped';
  readonly reason?: string;
  /** Requests and server errors during the bake; null where no metrics were read. */
  readonly requests: Counts | null;
}

/** What a deploy reports of its bake (deploy.ts's result, `--output json`). */
export interface BakeResult {
  /** The longest bake of a service. */
  readonly seconds: number;
  readonly services: ServiceBake[];
}

/** How long `name` bakes: `--bake`, else its own or the system's `rollout.bakeSeconds`. */
export function bakeSecondsOf(system: SystemFile, name: string, override: number | undefined): number {
  return override ?? (system.services[name]?.rollout ?? system.rollout).bakeSeconds;
}

/**
 * Bakes every changed service side by side; the first that degrades stops the
 * others (the release rolls back whole anyway). A bake stopped by `signal`
 * (Ctrl-C) is a failure `interrupted`, as a rollout wait stopped that way is.
 */
export async function bakeRelease(options: BakeOptions): Promise<{
  readonly bake: BakeResult;
  /** Why each degraded service degraded (or `interrupted`), by name: what rolls the release back. */
  readonly failures: ReadonlyMap<string, string>;
}> {
  const baking = options.services
    .map((name) => ({ name, seconds: bakeSecondsOf(options.system, name, options.seconds) }))
    .filter((service) => service.seconds > 0);
  const results = new Map<string, ServiceBake>();
  if (baking.length === 0) return { bake: { seconds: 0, services: [] }, failures: new Map() };
  options.progress.note(
    `baking ${baking.map(({ name, seconds }) => `${name} (${seconds} s)`).join(', ')}: a restart, a pod not ready or an error rate above ${(options.gate ?? defaultBakeGate).maxErrorRate}% rolls the release back`,
  );
  const failures = await waitUntilFirstFailure(
    baking.map(({ name }) => name),
    async (name, signal) => {
      const { seconds } = baking.find((service) => service.name === name)!;
      const bake = await bakeService(options, name, seconds, signal);
      results.set(name, bake);
      if (bake.result === 'degraded') return bake.reason;
      return bake.result === 'stopped' && options.signal?.aborted ? 'interrupted' : undefined;
    },
    options.signal,
  );
  const seconds = Math.max(...baking.map((service) => service.seconds));
  return { bake: { seconds, services: baking.map(({ name }) => results.get(name)!) }, failures };
}

async function bakeService(
  options: BakeOptions,
  name: string,
  seconds: number,
  signal: AbortSignal,
): Promise<ServiceBake> {
  const { client, system, progress } = options;
  const label = `${name} (bake)`;
  const pods = new PodWatch();
  const errors = new ErrorRateWatch(
    () => readGroups(client, system, name),
    options.metricsIntervalMs ?? 5000,
  );
  const endAt = Date.now() + seconds * 1000;
  const selector = labelSelector(selectorFor(system, name));
  const outcome = (result: ServiceBake['result'], reason?: string): ServiceBake => {
    progress.update(label, `${result === 'healthy' ? '✓' : '✗'} ${reason ?? result}`);
    return { name, seconds, result, ...(reason ? { reason } : {}), requests: errors.counts() ?? null };
  };
  while (true) {
    if (signal.aborted) return outcome('stopped');
    const deployment = await client.get<V1Deployment>('apps/v1', 'Deployment', system.namespace, name);
    if (!deployment) return outcome('degraded', `deployment ${system.namespace}/${name} is gone`);
    const list = await client.list<V1Pod>('v1', 'Pod', system.namespace, selector);
    const now = Date.now();
    errors.poll(now);
    const gate = options.gate ?? defaultBakeGate;
    const problem = pods.observe(deployment, list.items, now) ?? errors.problem(gate);
    if (problem) return outcome('degraded', problem);
    const left = Math.max(0, Math.ceil((endAt - now) / 1000));
    if (left === 0) {
      // The reading under way is left to finish first (nothing outlives the deploy);
      // a degraded bake does not wait for it: its rollback comes first.
      await errors.settled();
      const late = errors.problem(gate);
      if (late) return outcome('degraded', late);
      return outcome('healthy', `healthy for ${seconds} s; ${errors.summary()}`);
    }
    progress.update(label, `… ${left} s left; watching ${pods.watching}; ${errors.summary()}`);
    await sleep(Math.min(options.pollMs ?? 1000, endAt - now), undefined, { signal }).catch(() => undefined);
  }
}
