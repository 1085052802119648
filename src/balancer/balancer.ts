/**
 * Balancer: picks one instance of a service for a call and learns from the outcome
 * (go-micro's selector `Next` + `Mark`). Implementations beside this file:
 * round-robin (default), random, least-outstanding (power of two choices).
 */
import type { ServiceInstance } from '../registry/registry.ts';

export interface CallOutcome {
  /** The call got an answer from the instance (any status, including errors it returned). */
  readonly reached: boolean;
  /** The instance could not be reached at all (connection refused, reset before a response). */
  readonly connectFailure: boolean;
}

export interface Balancer {
  /** One of `candidates` (never empty), or undefined only when `candidates` is empty. */
  pick(candidates: readonly ServiceInstance[]): ServiceInstance | undefined;
  /** Every successful `pick` is followed by exactly one `report` for it. */
  report(instance: ServiceInstance, outcome: CallOutcome): void;
}

export type BalancerName = 'round-robin' | 'random' | 'least-outstanding';
