/**
 * What `berth run` leaves on the machine, as another local user would find it:
 * the pointers to running systems, the default local registry, the logs, and the
 * broker token every process of a run shares. We run as root in CI, so "another
 * user" is a file or folder chowned to uid 65534.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { loadSystemFile } from '../../src/config/system-file.ts';
import { LogOutput } from '../../src/runner/log-output.ts';
import { planSystem } from '../../src/runner/plan.ts';
import { listRunningSystems, STATE_VERSION } from '../../src/runner/state.ts';
import { runBerth } from '../cli/run-cli.ts';
import { fakeInstances } from '../support/instances.ts';

// CI runs as root (.ci/run), so these run there; as another user they are reported skipped, never passed.
const asRoot = process.getuid?.() === 0 ? false : 'needs root, to give files to another uid';
const nobody = 65534;

/** A fresh folder standing in for $XDG_RUNTIME_DIR: the user's own, 0700, as logind makes it. */
function runtimeDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-xdg-runtime-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A data dir holding the state file of a system whose runner (this process) is alive. */
function runningSystem(t: { after: (fn: () => void) => void }, system: string): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-trust-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  writeFileSync(
    join(dataDir, 'state.json'),
    JSON.stringify({ version: STATE_VERSION, system, dataDir, runner: { pid: process.pid } }),
    { mode: 0o600 },
  );
  return dataDir;
}

test('only pointers the user owns lead to a running system', { skip: asRoot }, (t) => {
  const env = { XDG_RUNTIME_DIR: runtimeDir(t) };
  const running = join(env.XDG_RUNTIME_DIR, 'berth', 'running');
  mkdirSync(running, { recursive: true, mode: 0o700 });
  const pointer = (name: string, dataDir: string) => {
    const file = join(running, `${name}.json`);
    writeFileSync(file, JSON.stringify({ dataDir }), { mode: 0o600 });
    return file;
  };
  pointer('ours', runningSystem(t, 'ours'));
  chownSync(pointer('planted', runningSystem(t, 'planted')), nobody, nobody);

  assert.deepEqual(
    listRunningSystems(env).map((state) => state.system),
    ['ours'],
  );
});

test('a pointers folder another user made, or others can reach, is refused, naming it', {
  skip: asRoot,
}, (t) => {
  const env = { XDG_RUNTIME_DIR: runtimeDir(t) };
  const running = join(env.XDG_RUNTIME_DIR, 'berth', 'running');
  mkdirSync(running, { recursive: true, mode: 0o700 });
  chownSync(running, nobody, nobody);
  assert.throws(() => listRunningSystems(env), {
    message: new RegExp(`^refusing to use ${running}: it is owned by uid 65534, not by you`),
  });
  chownSync(running, 0, 0);
  chmodSync(running, 0o777);
  assert.throws(() => listRunningSystems(env), {
    message: `refusing to use ${running}: other users can reach it (mode 0777); make it private with: chmod 700 ${running}`,
  });
  chmodSync(running, 0o700);
  assert.deepEqual(listRunningSystems(env), [], 'the same folder, private, is used');
});

test('XDG_RUNTIME_DIR is used only when it is the user’s own private folder', { skip: asRoot }, (t) => {
  const env = { XDG_RUNTIME_DIR: runtimeDir(t), XDG_CACHE_HOME: runtimeDir(t) };
  const point = (dir: string) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'p.json'), JSON.stringify({ dataDir: runningSystem(t, 'found') }), {
      mode: 0o600,
    });
  };
  point(join(env.XDG_RUNTIME_DIR, 'berth', 'running'));
  assert.equal(listRunningSystems(env).length, 1, 'found through XDG_RUNTIME_DIR');
  // Another user's runtime dir is not berth's: berth falls back to the user's cache.
  chownSync(env.XDG_RUNTIME_DIR, nobody, nobody);
  assert.deepEqual(listRunningSystems(env), [], 'the fallback, empty, is the folder read');
  point(join(env.XDG_CACHE_HOME, 'berth', 'run', 'running'));
  assert.equal(listRunningSystems(env).length, 1, 'found through the fallback');
});

test('`berth list` does not show an instance another user planted in the default registry', {
  skip: asRoot,
}, async (t) => {
  const xdg = runtimeDir(t);
  const registry = join(xdg, 'berth', 'registry');
  mkdirSync(registry, { recursive: true, mode: 0o700 });
  const plant = (id: string) => {
    const [instance] = fakeInstances(1, id);
    const file = join(registry, `${id}.json`);
    // The test's own pid: alive, so only ownership can keep the entry out.
    writeFileSync(file, JSON.stringify({ pid: process.pid, instance: { ...instance, id, name: id } }), {
      mode: 0o600,
    });
    return file;
  };
  plant('ours');
  chownSync(plant('planted'), nobody, nobody);
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: xdg, NO_COLOR: '1' };
  delete env.NODE_TEST_CONTEXT;
  delete env.BERTH_REGISTRY_DIR;
  delete env.BERTH_DATA_DIR;
  const listed = await runBerth(['list', '--json'], env, 20_000);
  assert.equal(listed.code, 0, listed.stderr);
  const names = (JSON.parse(listed.stdout) as { services: { name: string }[] }).services.map((s) => s.name);
  assert.deepEqual(names, ['ours']);

  chmodSync(registry, 0o755);
  const refused = await runBerth(['list'], env, 20_000);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    new RegExp(`refusing to use ${registry}: other users can reach it \\(mode 0755\\)`),
  );
});

test('log files are 0600 in a 0700 folder, even where an earlier run left them open', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-trust-logs-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const logsDir = join(dataDir, 'logs');
  mkdirSync(logsDir, { mode: 0o755 });
  chmodSync(logsDir, 0o755);
  writeFileSync(join(logsDir, 'old-1.log'), 'earlier run\n', { mode: 0o644 });
  chmodSync(join(logsDir, 'old-1.log'), 0o644);

  const log = new LogOutput({ out: new PassThrough().resume(), pretty: false, logsDir });
  for (const instance of ['old-1', 'new-1']) {
    const output = new PassThrough();
    log.instance(instance).attach(output);
    output.end('{"msg":"user ada@example.com signed up"}\n');
  }
  await log.close();
  assert.equal(statSync(logsDir).mode & 0o777, 0o700);
  for (const file of ['old-1.log', 'new-1.log']) {
    assert.equal(statSync(join(logsDir, file)).mode & 0o777, 0o600, file);
  }
});

test('every service of a run gets the same fresh broker token; the gateway and postgres none', async () => {
  const system = loadSystemFile(join(import.meta.dirname, 'fixtures'));
  const env = { PATH: '/bin', BERTH_BROKER_TOKEN: 'from-an-enclosing-run' };
  const plan = await planSystem({ system, env, dataDir: '/data' });
  const tokens = (kind: string) =>
    plan.units
      .filter((unit) => unit.kind === kind)
      .flatMap((unit) => unit.processes.map((p) => p.env.BERTH_BROKER_TOKEN));
  const services = tokens('service');
  assert.equal(services.length, 4);
  assert.equal(new Set(services).size, 1, 'one token for the whole run');
  assert.match(services[0]!, /^[A-Za-z0-9_-]{43}$/, '32 random bytes');
  assert.deepEqual([...tokens('gateway'), ...tokens('postgres')], [undefined, undefined]);
  const again = await planSystem({ system, env, dataDir: '/data' });
  assert.notEqual(
    again.units.find((unit) => unit.kind === 'service')!.processes[0]!.env.BERTH_BROKER_TOKEN,
    services[0],
    'a new run, a new token',
  );
});
