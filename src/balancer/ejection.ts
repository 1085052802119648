/**
 * Outlier ejection: an instance whose connections fail several times in a row is
 * left out of balancing for a while (doubling on repeat offences), so calls stop
 * paying for a dead address in the window before the registry forgets it.
 * If every instance is ejected, all are offered again: better to try than to fail.
 */
import type { ServiceInstance } from '../registry/registry.ts';
import type { CallOutcome } from './balancer.ts';

export interface EjectionOptions {
  /** Consecutive connection failures that eject an instance. */
  readonly consecutiveFailures?: number;
  /** First ejection length; doubles for each repeat, up to `maxEjectionMs`. */
  readonly baseEjectionMs?: number;
  readonly maxEjectionMs?: number;
  readonly now?: () => number;
}

interface Health {
  failures: number;
  ejections: number;
  ejectedUntil: number;
}

export class Ejector {
  readonly #threshold: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #now: () => number;
  readonly #health = new Map<string, Health>();

  constructor(options: EjectionOptions = {}) {
    this.#threshold = options.consecutiveFailures ?? 3;
    this.#baseMs = options.baseEjectionMs ?? 5_000;
    this.#maxMs = options.maxEjectionMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** `candidates` without the ejected ones (the same array when none is ejected). */
  filter(candidates: readonly ServiceInstance[]): readonly ServiceInstance[] {
    if (this.#health.size === 0) return candidates;
    const now = this.#now();
    const healthy = candidates.filter(
      (instance) => (this.#health.get(instance.id)?.ejectedUntil ?? 0) <= now,
    );
    return healthy.length > 0 ? healthy : candidates;
  }

  report(instance: ServiceInstance, outcome: CallOutcome): void {
    if (!outcome.connectFailure) {
      const health = this.#health.get(instance.id);
      if (health && health.ejectedUntil <= this.#now()) this.#health.delete(instance.id);
      return;
    }
    const health = this.#health.get(instance.id) ?? { failures: 0, ejections: 0, ejectedUntil: 0 };
    health.failures += 1;
    if (health.failures >= this.#threshold) {
      health.ejectedUntil = this.#now() + Math.min(this.#maxMs, this.#baseMs * 2 ** health.ejections);
      health.ejections += 1;
      health.failures = 0;
    }
    this.#health.set(instance.id, health);
  }

  isEjected(instance: ServiceInstance): boolean {
    return (this.#health.get(instance.id)?.ejectedUntil ?? 0) > this.#now();
  }
}
