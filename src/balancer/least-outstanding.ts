import type { ServiceInstance } from '../registry/registry.ts';
import type { Balancer } from './balancer.ts';

/**
 * Least outstanding requests by the power of two choices: sample two instances at
 * random and take the one with fewer calls in flight. Nearly as good as scanning
 * all instances, without herding every client onto the same "least loaded" one.
 */
export class LeastOutstandingBalancer implements Balancer {
  readonly #outstanding = new Map<string, number>();

  pick(candidates: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (candidates.length === 0) return undefined;
    let chosen = candidates[Math.floor(Math.random() * candidates.length)];
    if (candidates.length > 1) {
      let other = candidates[Math.floor(Math.random() * (candidates.length - 1))];
      if (other === chosen) other = candidates[candidates.length - 1];
      if (this.outstanding(other) < this.outstanding(chosen)) chosen = other;
    }
    this.#outstanding.set(chosen.id, this.outstanding(chosen) + 1);
    return chosen;
  }

  report(instance: ServiceInstance): void {
    const left = this.outstanding(instance) - 1;
    if (left > 0) this.#outstanding.set(instance.id, left);
    else this.#outstanding.delete(instance.id);
  }

  outstanding(instance: ServiceInstance): number {
    return this.#outstanding.get(instance.id) ?? 0;
  }
}
