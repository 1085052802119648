import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fakeInstances } from '../../test/support/instances.ts';
import { tempRegistry } from '../../test/support/processes.ts';
import { waitFor } from '../../test/support/wait.ts';
import { recordWatch } from '../../test/support/watch.ts';
import { LocalRegistry } from './local-registry.ts';
import { isProcessAlive } from './local-trust.ts';

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

// --- only what this user owns counts (we run as root in CI: chown makes "another user") ----

// CI runs as root (.ci/run), so these run there; as another user they are reported skipped, never passed.
const asRoot = process.getuid?.() === 0 ? false : 'needs root, to give files to another uid';
const nobody = 65534;

function entryText(id: string, pid: number): string {
  const [instance] = fakeInstances(1, id);
  return JSON.stringify({ pid, instance: { ...instance, id, name: id } });
}

test('an instance file planted by another user, or a symlink, is not listed', { skip: asRoot }, async (t) => {
  const { dir, registry } = await tempRegistry(t.after.bind(t));
  await registry.register({ ...fakeInstances(1, 'own')[0]!, id: 'own' });
  assert.equal(statSync(join(dir, 'own.json')).mode & 0o777, 0o600, 'written owner-only');
  // Alive pids (ours), so only ownership can keep them out.
  const planted = join(dir, 'planted.json');
  writeFileSync(planted, entryText('planted', process.pid));
  chownSync(planted, nobody, nobody);
  const elsewhere = join(tmpdir(), `berth-linked-${process.pid}.json`);
  writeFileSync(elsewhere, entryText('linked', process.pid));
  t.after(() => rmSync(elsewhere, { force: true }));
  symlinkSync(elsewhere, join(dir, 'linked.json'));
  // The control: the same kind of file, ours, is listed.
  writeFileSync(join(dir, 'control.json'), entryText('control', process.pid), { mode: 0o600 });

  assert.deepEqual((await registry.list()).map((i) => i.id).sort(), ['control', 'own']);
  assert.ok(existsSync(planted), "another user's file is ignored, not removed");
});

test('a registry folder another user owns, or others can reach, is refused, naming it', {
  skip: asRoot,
}, async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'berth-refused-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const foreign = join(parent, 'foreign');
  mkdirSync(foreign, { mode: 0o700 });
  chownSync(foreign, nobody, nobody);
  const open = join(parent, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);

  const refused = (dir: string, why: RegExp) => (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.ok(error.message.includes(`refusing to use ${dir}`), error.message);
    assert.match(error.message, why);
    return true;
  };
  for (const [dir, why] of [
    [foreign, /owned by uid 65534, not by you \(uid 0\).*remove it/],
    [open, /mode 0777.*chmod 700/],
  ] as const) {
    const registry = new LocalRegistry({ dir });
    t.after(() => registry.close());
    await assert.rejects(registry.register(fakeInstances(1, 'a')[0]!), refused(dir, why));
    await assert.rejects(registry.list(), refused(dir, why));
    assert.deepEqual(readdirSync(dir), [], 'nothing was written there');
  }
  // A folder that does not exist yet is created owner-only.
  const fresh = join(parent, 'fresh', 'registry');
  const registry = new LocalRegistry({ dir: fresh });
  t.after(() => registry.close());
  assert.deepEqual(await registry.list(), []);
  await registry.register(fakeInstances(1, 'a')[0]!);
  assert.equal(statSync(fresh).mode & 0o777, 0o700);
  assert.deepEqual(
    (await registry.list()).map((i) => i.id),
    ['a-0'],
  );
});

test("an entry whose pid is another user's process is not alive, and not listed", {
  skip: asRoot,
}, async (t) => {
  // sh reports once setpriv has switched to uid 65534, then becomes the sleep.
  const other = spawn(
    'setpriv',
    [`--reuid=${nobody}`, `--regid=${nobody}`, '--clear-groups', 'sh', '-c', 'echo switched; exec sleep 30'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(other, 'exit');
  t.after(() => {
    other.kill('SIGKILL');
    return exited;
  });
  const [line] = (await once(other.stdout!, 'data')) as [Buffer];
  assert.equal(line.toString().trim(), 'switched');
  const pid = other.pid!;
  assert.equal(statSync(`/proc/${pid}`).uid, nobody, 'the process runs as another user');

  assert.equal(isProcessAlive(pid), false);
  assert.equal(isProcessAlive(process.pid), true, 'our own pid is alive');
  for (const bogus of [0, -1, 1.5, Number.NaN]) assert.equal(isProcessAlive(bogus), false, String(bogus));

  const { dir, registry } = await tempRegistry(t.after.bind(t));
  writeFileSync(join(dir, 'theirs.json'), entryText('theirs', pid), { mode: 0o600 });
  writeFileSync(join(dir, 'ours.json'), entryText('ours', process.pid), { mode: 0o600 });
  assert.deepEqual(
    (await registry.list()).map((i) => i.id),
    ['ours'],
  );
});
