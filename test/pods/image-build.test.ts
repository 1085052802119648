/**
 * `berth build` with the REAL buildah (and a private containerd for --load): the
 * commands test/cli/build.test.ts checks with fakes must also work. The pods
 * phase has buildah, containerd and tools/images' base in CONTAINERS_STORAGE_CONF:
 * without them these tests fail, naming what is missing.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { checkContainerd, importCommand } from '../../src/kube/containerd-import.ts';
import { imageDockerignore } from '../../src/kube/content-tag.ts';
import { checkEngine, type ImageEngine, qualifiedImage } from '../../src/kube/image-engine.ts';
import { type Environment, findOnPath, runTool, type ToolCommand } from '../../src/kube/tool-process.ts';
import { cliEnv, runBerth } from '../cli/run-cli.ts';
import { repoRoot } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const buildahMissing = findOnPath('buildah', process.env)
  ? undefined
  : 'buildah is not installed (apt-get install buildah runc)';

/** Runs `program` to completion and returns its stdout; any failure fails the test with its stderr. */
function run(program: string, args: readonly string[], env: Environment): string {
  const result = spawnSync(program, args, { env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `${program} ${args.join(' ')}: ${result.error ?? result.stderr}`);
  return result.stdout;
}

/** runTool, with the output kept for the assertion message. */
async function runCollected(command: ToolCommand, env: Environment): Promise<void> {
  let output = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString('utf8');
      done();
    },
  });
  const result = await runTool(command, {
    env,
    stdout: sink,
    stderr: sink,
    signal: AbortSignal.timeout(300_000),
  });
  assert.equal(
    result.code,
    0,
    `${command.program} ${command.args.join(' ')}: ${result.problem ?? ''}\n${output}`,
  );
}

/** A containers storage of the test's own (overlay, as on a real node), removed with everything in it. */
function privateStorage(t: TestContext): Environment {
  const dir = mkdtempSync(join(tmpdir(), 'berth-storage-'));
  const conf = join(dir, 'storage.conf');
  writeFileSync(conf, `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`);
  const env = { ...process.env, CONTAINERS_STORAGE_CONF: conf };
  t.after(() => {
    spawnSync('buildah', ['rm', '--all'], { env });
    spawnSync('buildah', ['rmi', '--all', '--force'], { env });
    rmSync(dir, { recursive: true, force: true });
  });
  return env;
}

/**
 * A containerd of the test's own (own root, state and socket; no CRI plugin), so
 * nothing touches a node's containerd. Undefined when containerd is not installed.
 */
async function privateContainerd(t: TestContext): Promise<string | undefined> {
  const binary = findOnPath('containerd', process.env, ['/usr/local/sbin', '/usr/sbin']);
  if (!binary) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'berth-containerd-'));
  const socket = join(dir, 'containerd.sock');
  writeFileSync(
    join(dir, 'config.toml'),
    `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${socket}"
`,
  );
  const log = openSync(join(dir, 'containerd.log'), 'w');
  const child = spawn(binary, ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(() => checkContainerd(socket, process.env) === undefined, {
    timeoutMs: 20_000,
    intervalMs: 200,
    what: `containerd on ${socket} (log: ${join(dir, 'containerd.log')})`,
  });
  return socket;
}

function containerdImages(socket: string): string[] {
  return run('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'ls', '-q'], process.env).split('\n');
}

/** The files of `image`, through a mounted working container, handed to `look`. */
function inspectImage(image: string, env: Environment, look: (root: string) => void): void {
  const container = run('buildah', ['from', '--pull=never', image], env).trim();
  try {
    look(run('buildah', ['mount', container], env).trim());
  } finally {
    spawnSync('buildah', ['umount', container], { env });
    spawnSync('buildah', ['rm', container], { env });
  }
}

/** A base image with nothing but a shell and the libraries it links: enough for a RUN step. */
function makeShellBase(name: string, env: Environment): void {
  const libraries = [...run('ldd', ['/bin/sh'], env).matchAll(/(\/\S+) \(0x/g)].map((match) => match[1]!);
  const container = run('buildah', ['from', 'scratch'], env).trim();
  for (const file of ['/bin/sh', ...libraries])
    run('buildah', ['copy', '--quiet', container, file, file], env);
  run('buildah', ['commit', '--quiet', container, name], env);
  run('buildah', ['rm', container], env);
}

test('real buildah: a tiny image FROM a local base, RUN under runc, the ignore file honoured; loaded into a private containerd', async (t) => {
  assert.equal(buildahMissing, undefined, buildahMissing);
  const env = privateStorage(t);
  makeShellBase('localhost/berth-test-base:1', env);
  const dir = mkdtempSync(join(tmpdir(), 'berth-tiny-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const context = join(dir, 'context');
  for (const folder of ['node_modules/left-out', 'service/test'])
    mkdirSync(join(context, folder), { recursive: true });
  writeFileSync(join(context, 'service/main.ts'), 'shipped\n');
  writeFileSync(join(context, 'service/main.test.ts'), 'not shipped\n');
  writeFileSync(join(context, 'service/test/fixture.json'), '{}\n');
  writeFileSync(join(context, 'node_modules/left-out/index.js'), '\n');
  const dockerfile = join(dir, 'Dockerfile');
  writeFileSync(dockerfile, 'FROM localhost/berth-test-base:1\nRUN echo built > /proof\nCOPY . /app/\n');
  writeFileSync(`${dockerfile}.dockerignore`, imageDockerignore());

  const check = checkEngine('buildah', env);
  assert.ok(check.usable, check.usable ? '' : check.problem);
  const engine: ImageEngine = check.engine;
  assert.match(engine.summary, /^buildah \(overlay storage at \/tmp\/berth-storage-/);
  const image = qualifiedImage('berth-test-tiny:1');
  await runCollected(
    engine.build({ dockerfile, ignoreFile: `${dockerfile}.dockerignore`, context, image, pull: 'never' }),
    env,
  );
  inspectImage(image, env, (root) => {
    assert.equal(readFileSync(join(root, 'proof'), 'utf8'), 'built\n', 'the RUN step ran');
    assert.ok(existsSync(join(root, 'app/service/main.ts')));
    for (const ignored of ['app/service/main.test.ts', 'app/service/test', 'app/node_modules'])
      assert.ok(!existsSync(join(root, ignored)), `${ignored} is left out`);
  });

  await t.test('saved and imported into containerd under the name a pod asks for', async (st) => {
    const socket = await privateContainerd(st);
    assert.ok(socket, 'containerd is not installed (apt-get install containerd)');
    const archive = join(dir, 'image.tar');
    await runCollected(engine.save(image, archive), env);
    await runCollected(importCommand(socket, archive), process.env);
    assert.ok(
      containerdImages(socket).includes('docker.io/library/berth-test-tiny:1'),
      containerdImages(socket).join(', '),
    );
  });
});

const shippy = join(repoRoot, 'examples/shippy');
const base = 'node:24-bookworm-slim';
const baseMissing =
  buildahMissing ??
  (spawnSync('buildah', ['inspect', '--type', 'image', base], { stdio: 'ignore' }).status === 0
    ? undefined
    : `${base} is not in the containers storage (${process.env.CONTAINERS_STORAGE_CONF ?? 'default storage.conf'}): run tools/images/build.sh and export what it prints`);

test('real buildah: berth build --engine buildah --load builds the vessel image FROM the real base and loads it', {
  timeout: 900_000,
}, async (t) => {
  assert.equal(baseMissing, undefined, baseMissing);
  const socket = await privateContainerd(t);
  assert.ok(socket, 'containerd is not installed (apt-get install containerd)');
  const args = ['build', 'vessel', '-f', shippy, '--env', 'dev', '--engine', 'buildah', '--pull', 'never'];
  const registryDir = mkdtempSync(join(tmpdir(), 'berth-build-'));
  t.after(() => rmSync(registryDir, { recursive: true, force: true }));
  const result = await runBerth([...args, '--load', '--containerd', socket], cliEnv(registryDir), 840_000);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  const image = /^vessel: built in/m.test(result.stdout)
    ? /^vessel: building (\S+)$/m.exec(result.stdout)?.[1]
    : undefined;
  assert.ok(image, result.stdout);
  t.after(() => spawnSync('buildah', ['rmi', image], { stdio: 'ignore' }));
  inspectImage(image, process.env, (root) => {
    assert.ok(existsSync(join(root, 'app/examples/shippy/vessel/main.ts')));
    assert.ok(existsSync(join(root, 'app/node_modules/@connectrpc/connect')), 'dependencies installed');
    assert.ok(!existsSync(join(root, 'app/node_modules/typescript')), 'no devDependencies');
    assert.ok(!existsSync(join(root, 'app/examples/shippy/user')), "no other service's code");
  });
  assert.ok(containerdImages(socket).includes(image), containerdImages(socket).join(', '));
});
