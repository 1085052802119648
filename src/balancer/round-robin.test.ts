import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeInstances as instances } from '../../test/support/instances.ts';
import type { Balancer } from './balancer.ts';
import { createBalancer } from './create-balancer.ts';
import { RoundRobinBalancer } from './round-robin.ts';

const ok = { reached: true, connectFailure: false };

test('round-robin takes each instance in turn', () => {
  const balancer: Balancer = new RoundRobinBalancer();
  const three = instances(3);
  const picked = Array.from({ length: 6 }, () => {
    const instance = balancer.pick(three)!;
    balancer.report(instance, ok);
    return instance.id;
  });
  assert.deepEqual(picked, ['svc-0', 'svc-1', 'svc-2', 'svc-0', 'svc-1', 'svc-2']);
});

test('round-robin follows a candidate list that shrinks', () => {
  const balancer = new RoundRobinBalancer();
  const three = instances(3);
  balancer.pick(three);
  const two = three.slice(1);
  const counts = new Map<string, number>();
  for (let i = 0; i < 10; i++) {
    const id = balancer.pick(two)!.id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), { 'svc-1': 5, 'svc-2': 5 });
});

test('every balancer answers undefined for no candidates', () => {
  for (const name of ['round-robin', 'random', 'least-outstanding'] as const) {
    assert.equal(createBalancer(name).pick([]), undefined, name);
  }
});

test('createBalancer defaults to round-robin', () => {
  assert.ok(createBalancer() instanceof RoundRobinBalancer);
});
