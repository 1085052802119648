/**
 * `berth new system`, `berth new service` and `berth generate` as a user runs them:
 * a system scaffolded into a temporary folder (depending on this checkout through a
 * `file:` link, so npm links berth instead of copying it), installed with npm,
 * started with `berth run` and called through the gateway; its own `npm test`; a
 * second service (with postgres and nats) added, started and called; and what
 * `berth new` refuses, leaving the system as it was.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { BerthRun, berth, type CliResult, childEnv, repoRoot, rpc } from '../runner/berth-run.ts';
import { fileCleanup } from '../support/cleanup.ts';

const cleanup = fileCleanup();

/** `npm <args>` in `cwd`, as a user runs it: without the npm_* variables of an enclosing `npm test`. */
function npm(args: readonly string[], cwd: string): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(childEnv({})).filter(([key]) => !key.startsWith('npm_')));
  return new Promise((done, fail) => {
    // The timeout only keeps a hung npm from outliving the test.
    const child = spawn('npm', args, { cwd, env, timeout: 300_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

function succeeded(result: CliResult, what: string): void {
  assert.equal(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function hello(run: BerthRun, service: string, Service: string, name: string) {
  return rpc(run.gateway, { service, method: `${Service}Service.Hello`, request: { name } });
}

describe('a new system, installed, run, tested and grown by a service', () => {
  let dir: string;

  before(async () => {
    dir = join(await tempDir('berth-new-'), 'harbour');
  });

  it('berth new system writes a system with its code already generated', async () => {
    const created = await berth(['new', 'system', dir, '--berth', repoRoot], {});
    succeeded(created, 'berth new system');
    assert.match(created.stdout, /created system harbour in /);
    assert.match(created.stdout, /npm install && npm start\n {2}npm test/);
    for (const file of [
      'berth.yaml',
      'README.md',
      '.gitignore',
      'buf.gen.yaml',
      'proto/harbour/greeter/v1/greeter.proto',
      'gen/harbour/greeter/v1/greeter_pb.js',
      'gen/harbour/greeter/v1/greeter_pb.d.ts',
      'greeter/main.ts',
      'greeter/handlers.ts',
      'greeter/configs/base.yaml',
      'greeter/greeter.test.ts',
    ]) {
      assert.ok(existsSync(join(dir, file)), `${file} is missing`);
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    assert.equal(manifest.dependencies.berth, `file:${repoRoot}`);
    assert.equal(manifest.scripts.start, 'berth run');
    assert.ok(manifest.devDependencies.node, 'the node devDependency runs the npm scripts on Node 24');
    assert.match(
      readFileSync(join(dir, 'berth.yaml'), 'utf8'),
      /^system: harbour$[\s\S]*^services:\n {2}greeter: \{\}$/m,
    );
  });

  it('installs, runs, and answers through the gateway', async () => {
    succeeded(await npm(['install', '--prefer-offline', '--no-audit', '--no-fund'], dir), 'npm install');
    const run = await BerthRun.start({ target: dir, cleanup });
    const answer = await hello(run, 'greeter', 'Greeter', 'Ada');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { message: 'Hello, Ada!' });
    const empty = await hello(run, 'greeter', 'Greeter', ' ');
    assert.equal(empty.status, 400);
    assert.match(String(empty.body.detail), /name must not be empty/);
    assert.deepEqual(await run.stop(), { code: 0, signal: null });
  });

  it("passes its own npm test, on the Node 24 that npm's scripts find first", async () => {
    const tested = await npm(['test'], dir);
    succeeded(tested, 'npm test');
    // Node 20 would find no *.test.ts at all and pass with zero tests.
    assert.match(tested.stdout, /Hello greets by name/);
    assert.match(tested.stdout, /pass 2\b/);
  });

  it('berth new service adds a service with postgres and nats that runs beside the first', async () => {
    const added = await berth(['new', 'service', 'dock-log', '--in', dir, '--uses', 'postgres,nats'], {});
    succeeded(added, 'berth new service');
    assert.match(added.stdout, /added service dock-log to harbour/);
    for (const file of [
      'dock-log/repository.ts',
      'configs/database.ts',
      'configs/broker.ts',
      'gen/harbour/dock_log/v1/dock_log_pb.js',
    ]) {
      assert.ok(existsSync(join(dir, file)), `${file} is missing`);
    }
    const systemFile = readFileSync(join(dir, 'berth.yaml'), 'utf8');
    assert.match(systemFile, /^# harbour: `npm start`/, 'the comments of berth.yaml are kept');
    assert.match(systemFile, / {2}greeter: \{\}\n {2}dock-log:\n {4}uses: \[postgres, nats\]\n/);

    const run = await BerthRun.start({ target: dir, cleanup });
    const first = await hello(run, 'dock-log', 'DockLog', 'Grace');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, { message: 'Hello, Grace!', count: 1 });
    // The count lives in the service's Postgres schema.
    assert.deepEqual((await hello(run, 'dock-log', 'DockLog', 'Grace')).body, {
      message: 'Hello, Grace!',
      count: 2,
    });
    assert.deepEqual((await hello(run, 'greeter', 'Greeter', 'Ada')).body, { message: 'Hello, Ada!' });
    assert.deepEqual(await run.stop(), { code: 0, signal: null });

    const tested = await npm(['test'], dir);
    succeeded(tested, 'npm test');
    assert.match(tested.stdout, /Hello publishes dock-log\.greeted/);
    assert.match(tested.stdout, /pass 5\b/);
    succeeded(await npm(['run', 'check'], dir), 'npm run check (tsc)');
  });
});

describe('what berth new refuses, leaving the system as it was', () => {
  let dir: string;
  let systemFile: string;

  before(async () => {
    dir = join(await tempDir('berth-new-refusals-'), 'yard');
    succeeded(await berth(['new', 'system', dir, '--berth', repoRoot], {}), 'berth new system');
    systemFile = readFileSync(join(dir, 'berth.yaml'), 'utf8');
  });

  async function refused(args: string[], message: RegExp): Promise<void> {
    const result = await berth(args, {});
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(readFileSync(join(dir, 'berth.yaml'), 'utf8'), systemFile, 'berth.yaml is unchanged');
  }

  it('a folder that is not empty', async () => {
    await refused(
      ['new', 'system', dir],
      /yard is not empty \(it has .*\): berth new system writes into a new or empty folder/,
    );
  });

  it('a name the system already has', async () => {
    await refused(['new', 'service', 'greeter', '--in', dir], /yard already has a service "greeter"/);
  });

  it('invalid and reserved names', async () => {
    for (const name of ['Orders', 'order_history', '9lives', 'orders-']) {
      await refused(
        ['new', 'service', name, '--in', dir],
        new RegExp(`"${name}" is not a valid service name`),
      );
    }
    for (const name of ['gateway', 'postgres', 'nats', 'configs']) {
      await refused(['new', 'service', name, '--in', dir], new RegExp(`"${name}" is reserved`));
    }
    await refused(
      ['new', 'system', join(dir, '..', 'My_System')],
      /"My_System" is not a valid system name.*--name/,
    );
  });

  it('a resource berth does not provide', async () => {
    await refused(
      ['new', 'service', 'orders', '--in', dir, '--uses', 'postgres,redis'],
      /berth provides postgres and nats, not "redis"/,
    );
    assert.ok(!existsSync(join(dir, 'orders')), 'no files were written');
  });

  it('a folder that is not a system', async () => {
    await refused(['new', 'service', 'orders', '--in', join(dir, 'greeter')], /no berth\.yaml in .*greeter/);
  });

  it('berth generate rewrites gen/ from proto/, and says so when there is no proto/', async () => {
    rmSync(join(dir, 'gen'), { recursive: true });
    const generated = await berth(['generate', dir], {});
    succeeded(generated, 'berth generate');
    assert.ok(existsSync(join(dir, 'gen/yard/greeter/v1/greeter_pb.js')));
    await refused(['generate', join(dir, 'greeter')], /no proto\/ folder in .*greeter/);
  });
});
