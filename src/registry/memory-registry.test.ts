import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeInstances } from '../../test/support/instances.ts';
import { waitFor } from '../../test/support/wait.ts';
import { recordWatch } from '../../test/support/watch.ts';
import { MemoryRegistry } from './memory-registry.ts';

test('list answers all instances or those of one service', async () => {
  const registry = new MemoryRegistry();
  const [a0, a1] = fakeInstances(2, 'a');
  const [b0] = fakeInstances(1, 'b');
  for (const instance of [a0, a1, b0]) await registry.register(instance);
  assert.deepEqual((await registry.list()).map((i) => i.id).sort(), ['a-0', 'a-1', 'b-0']);
  assert.deepEqual((await registry.list('a')).map((i) => i.id).sort(), ['a-0', 'a-1']);
  await registry.deregister('a-0');
  await registry.deregister('never-registered');
  assert.deepEqual(
    (await registry.list('a')).map((i) => i.id),
    ['a-1'],
  );
});

test('watch starts with an add per current instance, then changes in order', async () => {
  const registry = new MemoryRegistry();
  const [a0, a1, a2] = fakeInstances(3, 'a');
  await registry.register(a0);
  const watching = recordWatch(registry);
  await waitFor(() => watching.events.length === 1, { what: 'the initial add' });
  await registry.register(a1);
  await registry.deregister('a-0');
  await registry.register(a2);
  await waitFor(() => watching.events.length === 4, { what: 'three changes' });
  assert.deepEqual(watching.events, ['add:a-0', 'add:a-1', 'remove:a-0', 'add:a-2']);
  await watching.stop();
});

test('a change made while the watch starts is seen exactly once', async () => {
  const registry = new MemoryRegistry();
  const [a0] = fakeInstances(1, 'a');
  const watching = recordWatch(registry);
  // Registered before the watch's first read of the registry has been consumed.
  await registry.register(a0);
  await registry.deregister('a-0');
  await registry.register(a0);
  await waitFor(() => watching.events.at(-1) === 'add:a-0' && watching.events.length >= 3, {
    what: 'the events',
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(watching.events, ['add:a-0', 'remove:a-0', 'add:a-0']);
  await watching.stop();
});

test('a watch with a name sees only that service', async () => {
  const registry = new MemoryRegistry();
  const watching = recordWatch(registry, { name: 'b' });
  await registry.register(fakeInstances(1, 'a')[0]);
  await registry.register(fakeInstances(1, 'b')[0]);
  await registry.deregister('a-0');
  await registry.deregister('b-0');
  await waitFor(() => watching.events.length === 2, { what: 'b events' });
  assert.deepEqual(watching.events, ['add:b-0', 'remove:b-0']);
  await watching.stop();
});

test('a watch ends when its signal aborts, and every watch ends when the registry closes', async () => {
  const registry = new MemoryRegistry();
  const first = recordWatch(registry);
  const second = recordWatch(registry);
  await first.stop();
  await registry.close();
  await second.ended;
  await registry.register(fakeInstances(1)[0]);
  assert.deepEqual(second.events, []);
});

test('registering a known id again with other details is an update; the same details are not', async () => {
  const registry = new MemoryRegistry();
  const [a0] = fakeInstances(1, 'a');
  const watching = recordWatch(registry);
  await registry.register(a0);
  await registry.register({ ...a0 });
  await registry.register({ ...a0, address: '127.0.0.1:9' });
  await registry.deregister('a-0');
  await waitFor(() => watching.events.includes('remove:a-0'), { what: 'remove:a-0' });
  assert.deepEqual(watching.events, ['add:a-0', 'add:a-0', 'remove:a-0']);
  await watching.stop();
});
