/**
 * Client-side canary weighting: while a service's instances carry
 * `metadata.track = 'canary'` and a `metadata.canaryWeight` W (the Kubernetes
 * registry sets both from the pod name and the Service's `berth.dev/canary-weight`
 * annotation), W % of calls go to the canary group and the rest to the stable
 * group, whatever the ratio of pods; the balancer then picks within the group.
 *
 * Counted, not random: each target keeps a credit that grows by W per call, and a
 * call goes to the canary when the credit reaches 100 (then it drops by 100). So
 * every 100 calls of one caller send exactly W to the canary, in a spread-out
 * order (W = 30: 3 of every 10), which a test can check without statistics and an
 * operator reads straight off the canary's metrics. Callers do not share credit:
 * each gateway pod sends its own W %.
 */
import type { ServiceInstance } from '../registry/registry.ts';

export const canaryTrack = 'canary';

/** The canary weight the candidates carry (1–99), or undefined when none is a weighted canary. */
export function canaryWeightOf(candidates: readonly ServiceInstance[]): number | undefined {
  for (const instance of candidates) {
    if (instance.metadata.track !== canaryTrack) continue;
    const weight = Number(instance.metadata.canaryWeight);
    if (Number.isFinite(weight) && weight >= 0 && weight <= 100) return weight;
  }
  return undefined;
}

export class CanarySplit {
  /** Credit per target (service or proto service name), in percent. */
  readonly #credit = new Map<string, number>();

  /**
   * The group a call to `target` goes to: the canary instances or the stable ones;
   * `candidates` unchanged when they hold no weighted canary, or when the chosen
   * group is empty (then the other one serves).
   */
  choose(target: string, candidates: readonly ServiceInstance[]): readonly ServiceInstance[] {
    const weight = canaryWeightOf(candidates);
    if (weight === undefined) return candidates;
    const canary: ServiceInstance[] = [];
    const stable: ServiceInstance[] = [];
    for (const instance of candidates)
      (instance.metadata.track === canaryTrack ? canary : stable).push(instance);
    const credit = (this.#credit.get(target) ?? 0) + weight;
    const toCanary = credit >= 100;
    this.#credit.set(target, toCanary ? credit - 100 : credit);
    const chosen = toCanary ? canary : stable;
    return chosen.length > 0 ? chosen : toCanary ? stable : canary;
  }
}
