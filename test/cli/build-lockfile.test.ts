/**
 * The lockfile every image installs from. The Dockerfiles of `berth build` run
 * `npm ci --omit=dev`, which refuses a package-lock.json out of sync with
 * package.json (EUSAGE "can only install packages when your package.json and
 * package-lock.json … are in sync"): once every image failed so, because the lock
 * lacked the optional platform packages of two devDependencies. `--dry-run` makes
 * the same check without installing; the second test proves it still does, so
 * a newer npm that skipped it could not turn the first into a silent pass.
 * npm runs under this Node (24, as in the images), with no user npmrc, as there.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { findOnPath } from '../../src/kube/tool-process.ts';
import { repoRoot } from '../support/processes.ts';

/** npm's own script (npm-cli.js), found through the `npm` on PATH, to run with this Node. */
function npmScript(): string {
  const npm = findOnPath('npm', process.env);
  assert.ok(npm, 'npm is not on PATH: the lockfile cannot be checked without it');
  return realpathSync(npm);
}

/** `npm ci --omit=dev --dry-run` in a folder holding package.json and `lock`, as an image's first stage does. */
function dryRunCi(t: TestContext, lock: string): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lockfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  writeFileSync(join(dir, 'package-lock.json'), lock);
  writeFileSync(join(dir, 'npmrc'), '');
  return spawnSync(
    process.execPath,
    [npmScript(), 'ci', '--omit=dev', '--ignore-scripts', '--dry-run', '--no-audit', '--no-fund'],
    {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, npm_config_userconfig: join(dir, 'npmrc') },
      timeout: 120_000,
    },
  );
}

const lockfile = readFileSync(join(repoRoot, 'package-lock.json'), 'utf8');

test("package-lock.json is in sync with package.json, so every image's npm ci --omit=dev succeeds", (t) => {
  const result = dryRunCi(t, lockfile);
  assert.equal(
    result.status,
    0,
    `npm ci refused the lockfile; regenerate it with npm install:\n${result.stderr}`,
  );
  assert.match(result.stdout, /added \d+ packages/);
});

test('the dry run does check the sync: a lockfile missing an optional platform package is refused (EUSAGE)', (t) => {
  const lock = JSON.parse(lockfile) as { packages: Record<string, unknown> };
  const platformPackage = Object.keys(lock.packages).find((path) =>
    path.startsWith('node_modules/@biomejs/cli-'),
  );
  assert.ok(platformPackage, "biome's platform packages are listed");
  delete lock.packages[platformPackage];
  const result = dryRunCi(t, JSON.stringify(lock));
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /EUSAGE/);
  assert.match(result.stderr, new RegExp(`Missing: ${platformPackage.slice('node_modules/'.length)}@`));
});
