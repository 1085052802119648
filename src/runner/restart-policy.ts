/**
 * When `berth run` restarts a process (supervised-process.ts): the backoff after a
 * crash, and how many failed health checks in a row make a ready process count as
 * wedged. The defaults live here; RunnerOptions can override both (tests do).
 */

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  /** A process up this long has recovered: the next crash starts the backoff over. */
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, resetAfterMs: 10_000 };

export interface HealthPolicy {
  /** Between health checks of a ready process. */
  readonly intervalMs: number;
  /** This many failed checks in a row and the process is restarted. */
  readonly failures: number;
}

/** A process wedged for about 15 s is restarted; a slow moment (one or two missed checks) is not. */
export const DEFAULT_HEALTH: HealthPolicy = { intervalMs: 5000, failures: 3 };
/**
 * The embedded Postgres answers on the thread that runs its queries: a long
 * migration or query keeps it from answering for a while, and a restart then would
 * cut it short. A wedged server (a minute without an answer) is still restarted.
 */
export const POSTGRES_HEALTH: HealthPolicy = { intervalMs: 5000, failures: 12 };

/**
 * The crashes in a row after one more, for a run that was up `upMs`: one that stayed
 * up `resetAfterMs` had recovered, so its crash is the first again.
 */
export function failuresAfterCrash(backoff: Backoff, failures: number, upMs: number): number {
  return upMs >= backoff.resetAfterMs ? 1 : failures + 1;
}

/** The wait before the restart after `failures` crashes in a row: doubling from `initialMs`, capped at `maxMs`. */
export function backoffDelayMs(backoff: Backoff, failures: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** (failures - 1));
}
