import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeInstances } from '../../test/support/instances.ts';
import { ServiceCaller } from '../client/caller.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import type { ServiceInstance } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import { CanarySplit, canaryWeightOf } from './canary-split.ts';

/** `stable` stable instances and `canary` canary ones of `vessel`, the canary weighted `weight`. */
function tracks(stable: number, canary: number, weight?: number): ServiceInstance[] {
  return fakeInstances(stable + canary, 'vessel').map((instance, i) => {
    const track = i < stable ? 'stable' : 'canary';
    return {
      ...instance,
      id: `vessel-${track}-${i}`,
      metadata: { track, ...(weight === undefined ? {} : { canaryWeight: String(weight) }) },
    };
  });
}

const isCanary = (group: readonly ServiceInstance[]) => group.every((i) => i.metadata.track === 'canary');

test('a weight of W sends exactly W of every 100 calls to the canary group, spread out', () => {
  for (const weight of [1, 10, 30, 50, 99]) {
    const split = new CanarySplit();
    const candidates = tracks(3, 1, weight);
    const toCanary: number[] = [];
    for (let call = 0; call < 1000; call++) {
      if (isCanary(split.choose('vessel', candidates))) toCanary.push(call);
    }
    assert.equal(toCanary.length, weight * 10, `weight ${weight}: ${toCanary.length} of 1000`);
    // Spread out: in any 10 consecutive calls, the canary gets W/10 rounded down or up.
    for (let start = 0; start + 10 <= 1000; start += 10) {
      const inWindow = toCanary.filter((call) => call >= start && call < start + 10).length;
      assert.ok(Math.abs(inWindow - weight / 10) <= 1, `weight ${weight}, calls ${start}-${start + 9}`);
    }
  }
});

test('the share follows the weight, not the ratio of pods', () => {
  const split = new CanarySplit();
  // One canary pod beside nine stable ones, weighted 50: half the calls.
  const candidates = tracks(9, 1, 50);
  let canary = 0;
  for (let call = 0; call < 200; call++) if (isCanary(split.choose('vessel', candidates))) canary++;
  assert.equal(canary, 100);
});

test('each group holds only its own instances; an empty group gives way to the other', () => {
  const split = new CanarySplit();
  const candidates = tracks(2, 2, 50);
  const groups = Array.from({ length: 4 }, () => split.choose('vessel', candidates).map((i) => i.id));
  assert.deepEqual(groups.sort(), [
    ['vessel-canary-2', 'vessel-canary-3'],
    ['vessel-canary-2', 'vessel-canary-3'],
    ['vessel-stable-0', 'vessel-stable-1'],
    ['vessel-stable-0', 'vessel-stable-1'],
  ]);
  const canaryOnly = tracks(0, 2, 30);
  for (let call = 0; call < 10; call++) assert.equal(split.choose('vessel', canaryOnly).length, 2);
  const stableOnly = tracks(2, 0, 30);
  for (let call = 0; call < 10; call++) assert.equal(split.choose('vessel', stableOnly), stableOnly);
});

test('without a weighted canary the candidates pass through untouched', () => {
  const split = new CanarySplit();
  const unweighted = tracks(2, 1);
  assert.equal(canaryWeightOf(unweighted), undefined);
  assert.equal(split.choose('vessel', unweighted), unweighted);
  const plain = fakeInstances(3, 'vessel');
  assert.equal(split.choose('vessel', plain), plain);
  assert.equal(canaryWeightOf(tracks(2, 1, 30)), 30);
});

test('targets keep their own count', () => {
  const split = new CanarySplit();
  const candidates = tracks(1, 1, 50);
  // Alternating targets: each still sends every other call of its own to the canary.
  const seen = { a: 0, b: 0 };
  for (let call = 0; call < 100; call++) {
    const key = call % 2 === 0 ? 'a' : 'b';
    if (isCanary(split.choose(key, candidates))) seen[key]++;
  }
  assert.deepEqual(seen, { a: 25, b: 25 });
});

test("ServiceCaller's picks follow the canary weight the registry's instances carry", async () => {
  const registry = new MemoryRegistry();
  const cache = new RegistryCache(registry);
  const caller = new ServiceCaller({ cache });
  try {
    for (const instance of tracks(2, 1, 30)) await registry.register(instance);
    await cache.start();
    await cache.waitFor('vessel', 1000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(cache.hasWeightedCanary, true);
    const picked = new Map<string, number>();
    for (let call = 0; call < 1000; call++) {
      const instance = caller.pick({ service: 'vessel' })!;
      caller.report(instance, { reached: true, connectFailure: false });
      picked.set(instance.id, (picked.get(instance.id) ?? 0) + 1);
    }
    assert.equal(picked.get('vessel-canary-2'), 300, 'the canary: 30 %');
    // The stable group balanced round-robin as ever: 700 calls over two instances.
    assert.equal((picked.get('vessel-stable-0') ?? 0) + (picked.get('vessel-stable-1') ?? 0), 700);
    assert.ok(Math.abs((picked.get('vessel-stable-0') ?? 0) - 350) <= 50, JSON.stringify([...picked]));
  } finally {
    await caller.close();
    await cache.close();
    await registry.close();
  }
});

test('with no canary the cache says so, and picks are balanced as before', async () => {
  const registry = new MemoryRegistry();
  const cache = new RegistryCache(registry);
  const caller = new ServiceCaller({ cache });
  try {
    for (const instance of fakeInstances(3, 'vessel')) await registry.register(instance);
    await cache.start();
    assert.equal(cache.hasWeightedCanary, false);
    const picked = new Map<string, number>();
    for (let call = 0; call < 300; call++) {
      const instance = caller.pick({ service: 'vessel' })!;
      picked.set(instance.id, (picked.get(instance.id) ?? 0) + 1);
    }
    assert.deepEqual([...picked.values()], [100, 100, 100]);
  } finally {
    await caller.close();
    await cache.close();
    await registry.close();
  }
});
