import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { fakeInstances } from '../../test/support/instances.ts';
import { tempRegistry } from '../../test/support/processes.ts';
import { waitFor } from '../../test/support/wait.ts';
import { recordWatch } from '../../test/support/watch.ts';
import { LocalRegistry } from './local-registry.ts';

test('register, list, watch and deregister through the shared folder', async (t) => {
  const { dir, registry } = await tempRegistry(t.after.bind(t));
  // Another process's view: a second registry on the same folder.
  const other = new LocalRegistry({ dir, scanIntervalMs: 50 });
  t.after(() => other.close());
  const [a0, a1] = fakeInstances(2, 'a');
  const [b0] = fakeInstances(1, 'b');
  await registry.register(a0);
  const watching = recordWatch(other);
  await waitFor(() => watching.events.length > 0, { what: 'the initial add' });
  await registry.register(a1);
  await registry.register(b0);
  assert.deepEqual((await other.list()).map((i) => i.id).sort(), ['a-0', 'a-1', 'b-0']);
  assert.deepEqual((await other.list('a')).map((i) => i.id).sort(), ['a-0', 'a-1']);
  assert.deepEqual(await other.list('a').then((list) => list.find((i) => i.id === 'a-0')), a0);
  await registry.deregister('a-0');
  await waitFor(() => watching.events.includes('remove:a-0'), { what: 'remove:a-0' });
  assert.deepEqual((await other.list()).map((i) => i.id).sort(), ['a-1', 'b-0']);
  await watching.stop();
  assert.deepEqual(watching.events.slice(0, 1), ['add:a-0']);
  assert.deepEqual(watching.events.slice(1, 3).sort(), ['add:a-1', 'add:b-0']);
  assert.deepEqual(watching.events.slice(3), ['remove:a-0']);
});

test('a watch on a fresh registry announces each instance once', async (t) => {
  const { dir, registry } = await tempRegistry(t.after.bind(t));
  await registry.register(fakeInstances(1, 'a')[0]);
  const fresh = new LocalRegistry({ dir });
  t.after(() => fresh.close());
  const watching = recordWatch(fresh);
  await waitFor(() => watching.events.length > 0, { what: 'the initial add' });
  await registry.register(fakeInstances(1, 'b')[0]);
  await waitFor(() => watching.events.includes('add:b-0'), { what: 'add:b-0' });
  await watching.stop();
  assert.deepEqual(watching.events, ['add:a-0', 'add:b-0']);
});

test('an instance whose process was killed disappears within 2 s', async () => {
  const { dir, registry } = await tempRegistry(after);
  // A process that registers itself and then just stays alive.
  const script = `
    import { LocalRegistry } from ${JSON.stringify(new URL('./local-registry.ts', import.meta.url).href)};
    await new LocalRegistry({ dir: process.argv[1] }).register({
      id: 'doomed', name: 'doomed', version: '1', address: '127.0.0.1:1', protoServices: [], metadata: {},
    });
    process.stdout.write('registered\\n');
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  after(() => {
    child.kill('SIGKILL');
    return exited;
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.equal(line.toString().trim(), 'registered');

  const watching = recordWatch(registry, { name: 'doomed' });
  await waitFor(() => watching.events.includes('add:doomed'), { what: 'add:doomed' });
  child.kill('SIGKILL');
  await exited;
  // The requirement itself: watchers forget a dead process within 2 s.
  await waitFor(() => watching.events.includes('remove:doomed'), {
    timeoutMs: 2_000,
    what: 'remove:doomed',
  });
  assert.deepEqual(await registry.list('doomed'), []);
  await watching.stop();
});

test('a watch ends when the registry closes', async (t) => {
  const { registry } = await tempRegistry(t.after.bind(t));
  const watching = recordWatch(registry);
  await registry.close();
  await watching.ended;
  assert.deepEqual(watching.events, []);
});
