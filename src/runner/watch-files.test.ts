import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileWatcher, isIgnoredPath } from './watch-files.ts';

test('dependencies, build output, berth data and editor temporaries are ignored', () => {
  for (const path of [
    'node_modules/pg/index.js',
    'ui/dist/index.html',
    '.berth/data/state.json',
    '.git/index',
    'vessel/.handlers.ts.swp',
    'vessel/handlers.ts~',
    'vessel/4913',
    'vessel/.#handlers.ts',
    'vessel/#handlers.ts#',
    'vessel/handlers.ts___jb_tmp___',
  ]) {
    assert.equal(isIgnoredPath(path), true, path);
  }
  for (const path of ['vessel/handlers.ts', 'configs/base.yaml', 'proto/x/v1/x.proto', 'distance.ts']) {
    assert.equal(isIgnoredPath(path), false, path);
  }
});

test('changes arrive in batches, from folders made later too, never from ignored ones', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-watch-files-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'svc'));
  mkdirSync(join(root, 'node_modules', 'dep'), { recursive: true });
  mkdirSync(join(root, 'data'));
  const seen: string[] = [];
  let wanted: { files: string[]; done: () => void } | undefined;
  const watcher = new FileWatcher({
    roots: [root],
    skip: [join(root, 'data')],
    debounceMs: 50,
    onChange: (files) => {
      seen.push(...files);
      if (wanted?.files.every((file) => seen.includes(file))) wanted.done();
    },
  });
  t.after(() => watcher.close());
  const until = (files: string[]) =>
    new Promise<void>((done) => {
      wanted = { files, done };
    });

  const first = until([join(root, 'svc', 'handlers.ts')]);
  writeFileSync(join(root, 'node_modules', 'dep', 'index.js'), '');
  writeFileSync(join(root, 'data', 'state.json'), '');
  writeFileSync(join(root, 'svc', '.handlers.ts.swp'), '');
  writeFileSync(join(root, 'svc', 'handlers.ts'), 'export {};');
  await first;

  // A folder made after the start (a `git checkout`, a new service): its files count, now and later.
  const second = until([join(root, 'svc', 'fresh', 'a.ts')]);
  mkdirSync(join(root, 'svc', 'fresh'));
  writeFileSync(join(root, 'svc', 'fresh', 'a.ts'), '');
  await second;
  const third = until([join(root, 'svc', 'fresh', 'b.ts')]);
  writeFileSync(join(root, 'svc', 'fresh', 'b.ts'), '');
  await third;

  assert.deepEqual([...new Set(seen)].sort(), [
    join(root, 'svc', 'fresh', 'a.ts'),
    join(root, 'svc', 'fresh', 'b.ts'),
    join(root, 'svc', 'handlers.ts'),
  ]);
});
