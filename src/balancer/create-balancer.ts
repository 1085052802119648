import type { Balancer, BalancerName } from './balancer.ts';
import { LeastOutstandingBalancer } from './least-outstanding.ts';
import { RandomBalancer } from './random.ts';
import { RoundRobinBalancer } from './round-robin.ts';

export function createBalancer(name: BalancerName = 'round-robin'): Balancer {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer();
    case 'random':
      return new RandomBalancer();
    case 'least-outstanding':
      return new LeastOutstandingBalancer();
  }
}
