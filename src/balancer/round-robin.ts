import type { ServiceInstance } from '../registry/registry.ts';
import type { Balancer } from './balancer.ts';

/** The default: each instance in turn. */
export class RoundRobinBalancer implements Balancer {
  #next = 0;

  pick(candidates: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (candidates.length === 0) return undefined;
    const instance = candidates[this.#next % candidates.length];
    this.#next = (this.#next + 1) % 1_000_000_007;
    return instance;
  }

  report(): void {}
}
