/**
 * The order `berth run` starts and stops its units in: a unit starts once every
 * unit it depends on is ready (independent ones in parallel), and stops after
 * everything that depends on it. The gateway depends on every service, so it
 * stops first (no new requests) and postgres last.
 */
import type { PlannedUnit } from './plan.ts';
import type { SupervisedProcess } from './supervised-process.ts';

/** A unit of the plan with its processes, as the runner holds it. */
export interface Unit {
  readonly plan: PlannedUnit;
  readonly processes: readonly SupervisedProcess[];
  /** Set while the unit is (being) brought up. */
  starting: Promise<void> | undefined;
}

/**
 * Starts the units named (and what they depend on) once their dependencies are
 * ready; `beforeStart` is awaited just before a unit's processes start. The first
 * failure cancels the starts still waiting, and is what this rejects with.
 */
export async function bringUp(
  units: ReadonlyMap<string, Unit>,
  names: readonly string[],
  signal: AbortSignal,
  beforeStart: (unit: Unit) => Promise<void>,
): Promise<void> {
  const failed = new AbortController();
  const cancel = AbortSignal.any([signal, failed.signal]);
  const pending = new Map<Unit, Promise<void>>();
  const up = (unit: Unit): Promise<void> => {
    let promise = pending.get(unit);
    if (!promise) {
      promise = (async () => {
        await Promise.all(unit.plan.deps.map((dep) => up(units.get(dep)!)));
        await beforeStart(unit);
        cancel.throwIfAborted();
        unit.starting ??= Promise.all(unit.processes.map((process) => process.start(cancel))).then(
          () => undefined,
          (error: unknown) => {
            unit.starting = undefined;
            throw error;
          },
        );
        await unit.starting;
      })();
      promise.catch(() => failed.abort());
      pending.set(unit, promise);
    }
    return promise;
  };
  const results = await Promise.allSettled(names.map((name) => up(units.get(name)!)));
  if (signal.aborted) throw new Error('interrupted while starting');
  // The first real failure, not the cancellations it caused.
  const reasons = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  const cause = reasons.find((reason) => !(reason instanceof Error && reason.name === 'AbortError'));
  if (cause !== undefined || reasons.length > 0) throw cause ?? reasons[0];
}

/** Stops each of `units` after everything among them that depends on it. */
export async function bringDown(units: readonly Unit[]): Promise<void> {
  const pending = new Map<Unit, Promise<void>>();
  const dependents = (unit: Unit) =>
    units.filter(
      (other) =>
        other.plan.deps.includes(unit.plan.name) ||
        (other.plan.kind === 'gateway' && unit.plan.kind === 'service'),
    );
  const down = (unit: Unit): Promise<void> => {
    let promise = pending.get(unit);
    if (!promise) {
      promise = (async () => {
        await Promise.all(dependents(unit).map(down));
        unit.starting = undefined;
        await Promise.all(unit.processes.map((process) => process.stop()));
      })();
      pending.set(unit, promise);
    }
    return promise;
  };
  await Promise.all(units.map(down));
}
