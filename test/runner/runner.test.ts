/**
 * `berth run` end to end on a small system (fixtures/berth.yaml): real processes,
 * the real gateway, the CLI as a user runs it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { findRunningSystem, localRegistryDir } from '../../src/runner/state.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { BerthRun, berth, childEnv, isAlive, repoRoot, rpc } from './berth-run.ts';
import { reachableByOthers } from './embedded-postgres.ts';

const fixture = 'test/runner/fixtures';
const hello = (service: string, name = 'test') => ({ service, method: 'Say.Hello', request: { name } });

/** Time of the first log line of a file matching `msg`. */
function logTime(file: string, msg: string): number {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((text) => text.includes(`"msg":"${msg}"`));
  assert.ok(line, `${file} has no "${msg}" line`);
  return (JSON.parse(line) as { time: number }).time;
}

describe('berth run (back ×2 ← front, no postgres)', () => {
  let run: BerthRun;
  const cleanup = fileCleanup();

  before(async () => {
    run = await BerthRun.start({ target: fixture, args: ['--only', 'front'], cleanup });
  });

  test('starts the selection and its dependencies, each after what it depends on', () => {
    const state = run.state();
    const ready = state.processes.filter((p) => p.status === 'ready').map((p) => p.instance);
    assert.deepEqual(ready.sort(), ['back-1', 'back-2', 'front-1', 'gateway']);
    assert.equal(state.database, 'embedded');
    assert.ok(!state.processes.some((p) => p.instance === 'postgres' && p.pid !== undefined));
    const file = (instance: string) => state.processes.find((p) => p.instance === instance)!.logFile;
    const frontStarted = logTime(file('front-1'), 'serving');
    for (const back of ['back-1', 'back-2']) assert.ok(logTime(file(back), 'serving') <= frontStarted);
    assert.match(run.output, /fixture is ready in \d+\.\d s/);
    assert.match(run.output, new RegExp(`gateway +http://127\\.0\\.0\\.1:${run.port}`));
  });

  test('serves through the gateway; every line is prefixed with its instance', async () => {
    const response = await rpc(run.gateway, hello('front'));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.greeting, 'front: hello test');
    // Not a terminal: the children's JSON lines, prefixed.
    assert.match(run.output, /^back-2 +\| \{"level":30,.*"msg":"serving"/m);
  });

  test('other commands find the running system through its state', async () => {
    const env = { BERTH_DATA_DIR: run.dataDir };
    assert.equal(localRegistryDir({ cwd: '/', env }), `${run.dataDir}/registry`);
    assert.equal(findRunningSystem({ cwd: '/', env })?.runner.pid, run.child.pid);
    const logs = await berth(['logs', 'back'], env);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^back-1 \| \{.*"msg":"serving"/m);
    assert.match(logs.stdout, /^back-2 \| \{.*"msg":"serving"/m);
    assert.doesNotMatch(logs.stdout, /front/);
    const unknown = await berth(['logs', 'nope'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no logs for nope .* there are: back-1, back-2, front-1, gateway/);
  });

  test('a second runner on the same data dir is refused', async () => {
    const second = await berth(['run', fixture, '--only', 'front', '--port', '1'], {
      BERTH_DATA_DIR: run.dataDir,
    });
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`fixture is already running .*pid ${run.child.pid}`));
    assert.ok(
      run.state().processes.some((p) => p.status === 'ready'),
      'the first runner keeps its state',
    );
  });

  test('a killed process is restarted with backoff, and the runner says so', async () => {
    const [victim] = run.pids('back');
    process.kill(victim!, 'SIGKILL');
    await run.waitForOutput(/back-\d exited \(signal SIGKILL\); restarting in 0\.5 s \(restart 1\)/);
    await waitFor(() => run.pids('back').length === 2 && !run.pids('back').includes(victim!), {
      timeoutMs: 30_000,
      what: 'the killed back instance to be replaced',
    });
    const restarted = run.state().processes.filter((p) => p.restarts > 0);
    assert.equal(restarted.length, 1);
    assert.equal(restarted[0]!.service, 'back');
    assert.equal((await rpc(run.gateway, hello('front'))).status, 200);
  });

  test('berth stop / berth start take one service down and up, without restarts', async () => {
    const env = { BERTH_DATA_DIR: run.dataDir };
    const [pid] = run.pids('front');
    const follow = spawn(process.execPath, [join(repoRoot, 'src/cli/main.ts'), 'logs', 'front', '-f'], {
      env: childEnv(env),
    });
    let followed = '';
    follow.stdout.on('data', (chunk: Buffer) => {
      followed += chunk;
    });
    const followExit = new Promise((resolve) => follow.once('exit', resolve));
    await waitFor(() => followed.includes('"msg":"serving"'), { what: 'berth logs -f to print' });
    const stopped = await berth(['stop', 'front'], env);
    assert.equal(stopped.code, 0, stopped.stderr);
    await waitFor(() => followed.includes('"msg":"stopped"'), { what: 'berth logs -f to follow' });
    follow.kill('SIGINT');
    assert.equal(await followExit, 0);
    assert.ok(!isAlive(pid!));
    assert.equal(run.state().processes.find((p) => p.instance === 'front-1')!.status, 'stopped');
    assert.equal((await rpc(run.gateway, hello('front'))).status, 503);
    const started = await berth(['start', 'front'], env);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /^starting front \(waiting until ready\)…\nstarted front\n$/);
    assert.equal((await rpc(run.gateway, hello('front'))).status, 200);
    assert.equal(run.state().processes.find((p) => p.instance === 'front-1')!.restarts, 0);
    const unknown = await berth(['stop', 'nope'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown service "nope"; fixture has: back, front, store/);
  });

  test('Ctrl-C stops the gateway, then front, then back, and exits 0', async () => {
    const pids = run.state().processes.flatMap((p) => p.pid ?? []);
    const exit = await run.stop('SIGINT');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual(pids.filter(isAlive), []);
    const out = run.output.slice(run.output.indexOf('stopping fixture'));
    const at = (pattern: RegExp) => out.search(pattern);
    assert.ok(at(/gateway +\| .*"gateway stopped"/) >= 0);
    assert.ok(at(/gateway +\| .*"gateway stopped"/) < at(/front-1 +\| .*"msg":"stopping"/));
    assert.ok(at(/front-1 +\| .*"msg":"stopped"/) < at(/back-1 +\| .*"msg":"stopping"/));
    assert.match(out, /fixture stopped\n$/);
    assert.throws(() => run.state(), /no state file/);
  });
});

test('a service that fails to start stops the run: exit 1, naming it, with its output', async (t) => {
  const run = await BerthRun.start({
    target: fixture,
    args: ['--only', 'front', '--env', 'broken'],
    cleanup: (fn) => t.after(fn),
    waitReady: false,
  });
  const exit = await run.exited;
  assert.equal(exit.code, 1);
  assert.match(run.stderr, /front-1 exited before it was ready \(exit code 1\); its last output:/);
  assert.match(run.stderr, /front was told to fail \(ECHO_FAIL_ON_START\)/);
  const listed = readFileSync(`${run.dataDir}/logs/back-1.log`, 'utf8');
  const backPid = (JSON.parse(listed.split('\n')[0]!) as { pid: number }).pid;
  assert.ok(!isAlive(backPid), 'what had started is stopped');
});

/** The embedded Postgres's password of a run, after checking that it lets in only who gives it. */
async function checkDatabasePassword(run: BerthRun): Promise<string> {
  const url = run.state().databaseUrl!;
  assert.match(url, /^postgres:\/\/postgres:[\w-]{32}@127\.0\.0\.1:\d+\/postgres$/);
  const password = new URL(url).password;
  const guess = new pg.Client({ connectionString: url.replace(`:${password}@`, ':guess@') });
  await assert.rejects(guess.connect(), /password authentication failed for user "postgres"/);
  const right = new pg.Client({ connectionString: url });
  await right.connect();
  await right.end();
  // Only in the 0600 state file and its services' environment: in no output and no log.
  assert.ok(!run.output.includes(password) && !run.stderr.includes(password), 'the password is not printed');
  for (const name of readdirSync(join(run.dataDir, 'logs'))) {
    assert.ok(!readFileSync(join(run.dataDir, 'logs', name), 'utf8').includes(password), `not in ${name}`);
  }
  return password;
}

/** The data dir, the state file and the database are their user's only. */
function checkPrivate(run: BerthRun): void {
  assert.equal(statSync(run.dataDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(run.dataDir, 'state.json')).mode & 0o777, 0o600);
  assert.deepEqual(reachableByOthers(join(run.dataDir, 'pglite')), []);
}

test('embedded postgres: services get a DATABASE_URL with a password; the data outlives a restart', async (t) => {
  const first = await BerthRun.start({
    target: fixture,
    args: ['--only', 'store'],
    cleanup: (fn) => t.after(fn),
  });
  assert.equal(first.state().processes.find((p) => p.kind === 'postgres')?.status, 'ready');
  assert.equal((await rpc(first.gateway, hello('store', 'a'))).body.greeting, 'store: hello a #1');
  assert.equal((await rpc(first.gateway, hello('store', 'b'))).body.greeting, 'store: hello b #2');
  const firstPassword = await checkDatabasePassword(first);
  checkPrivate(first);
  // `berth stop` without a service stops the whole system, as Ctrl-C does.
  const stop = await berth(['stop'], { BERTH_DATA_DIR: first.dataDir });
  assert.equal(stop.code, 0, stop.stderr);
  assert.deepEqual(await first.exited, { code: 0, signal: null });
  // As an older berth left it: the next run makes it private again.
  chmodSync(first.dataDir, 0o755);

  const second = await BerthRun.start({
    target: fixture,
    args: ['--only', 'store'],
    dataDir: first.dataDir,
    cleanup: (fn) => t.after(fn),
  });
  assert.equal((await rpc(second.gateway, hello('store', 'c'))).body.greeting, 'store: hello c #3');
  assert.notEqual(await checkDatabasePassword(second), firstPassword, 'a new password per run');
  checkPrivate(second);
  assert.equal((await second.stop()).code, 0);
});

test('a runner killed with SIGKILL leaves processes behind; the next run stops them first', async (t) => {
  const cleanup = (fn: () => unknown) => t.after(fn);
  const first = await BerthRun.start({ target: fixture, args: ['--only', 'back'], cleanup });
  const orphans = first.state().processes.flatMap((p) => p.pid ?? []);
  first.child.kill('SIGKILL');
  await first.exited;
  // Children run in process groups of their own: a Ctrl-C at the terminal reaches the runner only.
  assert.deepEqual(orphans.filter(isAlive), orphans);
  const second = await BerthRun.start({
    target: fixture,
    args: ['--only', 'back'],
    dataDir: first.dataDir,
    cleanup,
  });
  assert.deepEqual(orphans.filter(isAlive), []);
  assert.equal(second.pids('back').length, 2);
  assert.equal((await second.stop()).code, 0);
});
