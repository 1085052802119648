import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeInstances } from '../../test/support/instances.ts';
import { waitFor } from '../../test/support/wait.ts';
import { MemoryRegistry } from './memory-registry.ts';
import { RegistryCache } from './registry-cache.ts';

const vessel = {
  ...fakeInstances(1, 'vessel')[0],
  system: 'shippy',
  protoServices: ['shippy.vessel.v1.VesselService'],
};

test('the cache answers by short name, system name and proto service, and follows changes', async (t) => {
  const registry = new MemoryRegistry();
  await registry.register(vessel);
  const cache = new RegistryCache(registry);
  t.after(() => cache.close());
  await cache.start();
  assert.deepEqual(cache.instances('vessel'), [vessel]);
  assert.deepEqual(cache.instances('shippy.vessel'), [vessel]);
  assert.deepEqual(cache.instances('other.vessel'), []);
  assert.deepEqual(cache.instancesServing('shippy.vessel.v1.VesselService'), [vessel]);
  assert.equal(cache.instances('vessel'), cache.instances('vessel'), 'same array until a change');

  let changes = 0;
  const off = cache.onChange(() => changes++);
  const second = { ...vessel, id: 'vessel-1', address: '127.0.0.1:2' };
  await registry.register(second);
  await waitFor(() => cache.instances('vessel').length === 2, { what: 'the second instance' });
  await registry.deregister(vessel.id);
  await waitFor(() => cache.instances('vessel').length === 1, { what: 'the first to go' });
  assert.deepEqual(cache.instances('vessel'), [second]);
  assert.equal(changes, 2);
  off();
});

test('waitFor resolves when an instance appears and rejects naming the service after the timeout', async (t) => {
  const registry = new MemoryRegistry();
  const cache = new RegistryCache(registry);
  t.after(() => cache.close());
  const waiting = cache.waitFor('vessel', 5_000);
  await registry.register(vessel);
  assert.deepEqual(await waiting, [vessel]);
  await assert.rejects(cache.waitFor('nobody', 20), /no instance of "nobody" registered within 20 ms/);
});

test('when the watch ends the cache keeps serving and watches again', async (t) => {
  const registry = new MemoryRegistry();
  await registry.register(vessel);
  const cache = new RegistryCache(registry);
  t.after(() => cache.close());
  await cache.start();
  await registry.close(); // ends every watch, as a dropped connection would
  assert.deepEqual(cache.instances('vessel'), [vessel]);
  const second = { ...vessel, id: 'vessel-1' };
  // Registered after the break: only a new list + watch can see it.
  await registry.register(second);
  await waitFor(() => cache.instances('vessel').length === 2, { what: 'the cache to relist' });
});
