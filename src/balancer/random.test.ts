import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeInstances } from '../../test/support/instances.ts';
import { RandomBalancer } from './random.ts';

test('random picks only candidates and reaches all of them', () => {
  const balancer = new RandomBalancer();
  const four = fakeInstances(4);
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const instance = balancer.pick(four)!;
    assert.ok(four.includes(instance));
    seen.add(instance.id);
  }
  // Each of 4 missed 400 times in a row has probability (3/4)^400 ≈ 1e-50.
  assert.equal(seen.size, 4);
});
