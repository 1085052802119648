import type { ServiceInstance } from '../registry/registry.ts';
import type { Balancer } from './balancer.ts';

/** go-micro's default selector strategy. */
export class RandomBalancer implements Balancer {
  pick(candidates: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (candidates.length === 0) return undefined;
    return candidates[Math.floor(Math.random() * candidates.length)];
  }

  report(): void {}
}
