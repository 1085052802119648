/**
 * `berth build` with FAKE engines (test/cli/fake-tools.ts): which engine it picks,
 * the exact commands it gives each one and ctr, and what it says when something is
 * missing or fails. Nothing here runs a real engine: test/kube/image-build.test.ts does.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '../support/processes.ts';
import { FAKE, type FakeTools, fakeTools } from './fake-tools.ts';
import { cliEnv, runBerth } from './run-cli.ts';

const shippy = join(repoRoot, 'examples/shippy');
/**
 * The image `berth build` said it builds for `name`, checked to be the name Kubernetes
 * gives `shippy-<name>:<tag>` (dev has no registry). Read from the output because the
 * tag follows berth's sources, which may change while the tests run.
 */
function imageOf(stdout: string, name: string): string {
  const image = new RegExp(
    `^${name}: (?:building|wrote) [\\s\\S]*?(docker\\.io/library/shippy-${name}:[0-9a-f]{12})\\b`,
    'm',
  ).exec(stdout)?.[1];
  assert.ok(image, `no image for ${name} in:\n${stdout}`);
  return image;
}
const dockerfileOf = (name: string) => join(shippy, '.berth/build', name, 'Dockerfile');

const registryDir = mkdtempSync(join(tmpdir(), 'berth-build-'));
after(() => rmSync(registryDir, { recursive: true, force: true }));

/** `berth build -f examples/shippy --env dev <args>` with only the fake tools on PATH. */
function build(tools: FakeTools, args: readonly string[], extra: Record<string, string> = {}) {
  const env: NodeJS.ProcessEnv = { ...cliEnv(registryDir), PATH: tools.dir };
  for (const name of ['BERTH_BUILD_ENGINE', 'CONTAINERD_ADDRESS', 'BUILDAH_RUNTIME']) delete env[name];
  return runBerth(['build', '-f', shippy, '--env', 'dev', ...args], { ...env, ...extra }, 60_000);
}

const callsOf = (tools: FakeTools, program: string, subcommand: string) =>
  tools.calls().filter((call) => call[0] === program && call[1] === subcommand);

test('fake engines: a docker client without a daemon is passed over; podman 4 is found by its own version field', async (t) => {
  const tools = fakeTools(t, { docker: FAKE.dockerWithoutDaemon, podman: FAKE.podman });
  const result = await build(tools, ['vessel']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^engine: podman 4\.3\.1$/m);
  assert.match(
    result.stdout,
    /^ {2}passed over docker: `docker version --format '\{\{\.Server\.Version\}\}'` exited 1: Cannot connect to the Docker daemon .*; start the Docker daemon/m,
  );
  assert.deepEqual(callsOf(tools, 'podman', 'build'), [
    [
      'podman',
      'build',
      '--pull=missing',
      '-f',
      dockerfileOf('vessel'),
      '--ignorefile',
      `${dockerfileOf('vessel')}.dockerignore`,
      '-t',
      imageOf(result.stdout, 'vessel'),
      repoRoot,
    ],
  ]);
});

test('fake engines: buildah when neither docker nor podman is there: cached layers, runc, host network, the ignore file', async (t) => {
  const tools = fakeTools(t, { buildah: FAKE.buildah, runc: FAKE.runc });
  const result = await build(tools, ['vessel', '--pull', 'never']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    new RegExp(
      `^engine: buildah \\(overlay storage at /fake/graph; RUN steps with ${tools.dir}/runc\\)$`,
      'm',
    ),
  );
  assert.match(
    result.stdout,
    /^ {2}passed over docker: docker is not installed \(not on PATH\); install Docker Engine/m,
  );
  assert.deepEqual(callsOf(tools, 'buildah', 'bud'), [
    [
      'buildah',
      'bud',
      '--layers',
      '--pull=never',
      '-f',
      dockerfileOf('vessel'),
      '--ignorefile',
      `${dockerfileOf('vessel')}.dockerignore`,
      '-t',
      imageOf(result.stdout, 'vessel'),
      '--runtime',
      join(tools.dir, 'runc'),
      '--network',
      'host',
      repoRoot,
    ],
  ]);
  // Progress: what is built, the engine's own output, how long it took.
  assert.match(result.stdout, new RegExp(`^vessel: building ${imageOf(result.stdout, 'vessel')}$`, 'm'));
  assert.match(result.stdout, /^Successfully tagged$/m);
  assert.match(result.stdout, /^vessel: built in \d+\.\d s$/m);
  assert.match(readFileSync(dockerfileOf('vessel'), 'utf8'), /^FROM node:24-bookworm-slim AS dependencies$/m);

  const ownRuntime = await build(tools, ['vessel'], { BUILDAH_RUNTIME: '/opt/other/runc' });
  assert.equal(ownRuntime.code, 0, ownRuntime.stderr);
  assert.match(ownRuntime.stdout, /RUN steps with \/opt\/other\/runc \(BUILDAH_RUNTIME\)/);
  assert.ok(
    !callsOf(tools, 'buildah', 'bud').at(-1)!.includes('--runtime'),
    'buildah reads BUILDAH_RUNTIME itself',
  );
});

test('fake engines: docker with a daemon comes first, with BuildKit (which reads <Dockerfile>.dockerignore); --pull never is refused', async (t) => {
  const tools = fakeTools(t, { docker: FAKE.dockerWithDaemon, podman: FAKE.podman, buildah: FAKE.buildah });
  const result = await build(tools, ['vessel', '--pull=always']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^engine: docker 28\.2\.2 \(daemon\)$/m);
  assert.deepEqual(callsOf(tools, 'docker', 'build'), [
    [
      'docker',
      'build',
      '--pull',
      '-f',
      dockerfileOf('vessel'),
      '-t',
      imageOf(result.stdout, 'vessel'),
      repoRoot,
    ],
  ]);
  assert.ok(tools.calls().some((call) => call[0] === 'DOCKER_BUILDKIT=1'));

  const never = await build(tools, ['vessel', '--pull', 'never']);
  assert.equal(never.code, 2);
  assert.match(never.stderr, /--pull never: docker cannot build without pulling a base image it lacks/);
  const unknown = await build(tools, ['vessel', '--pull', 'sometimes']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--pull: expected missing, never, always, got "sometimes"/);
});

test('fake engines: --engine, else BERTH_BUILD_ENGINE, forces one; an unusable one is an error with the command, its output and the remedy', async (t) => {
  const tools = fakeTools(t, { docker: FAKE.dockerWithoutDaemon, buildah: FAKE.buildah, runc: FAKE.runc });
  const docker = await build(tools, ['vessel', '--engine', 'docker']);
  assert.equal(docker.code, 1);
  assert.match(
    docker.stderr,
    /^berth build: --engine docker: not usable: `docker version --format '\{\{\.Server\.Version\}\}'` exited 1: Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\. Is the docker daemon running\?; start the Docker daemon/m,
  );
  const podman = await build(tools, ['vessel'], { BERTH_BUILD_ENGINE: 'podman' });
  assert.equal(podman.code, 1);
  assert.match(
    podman.stderr,
    /BERTH_BUILD_ENGINE=podman: not usable: podman is not installed \(not on PATH\); install podman/,
  );
  assert.deepEqual(callsOf(tools, 'buildah', 'bud'), [], 'nothing was built');

  const flagWins = await build(tools, ['vessel', '--engine', 'buildah'], { BERTH_BUILD_ENGINE: 'docker' });
  assert.equal(flagWins.code, 0, flagWins.stderr);
  assert.equal(callsOf(tools, 'buildah', 'bud').length, 1);
  const unknown = await build(tools, ['vessel', '--engine', 'rkt']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--engine: expected docker, podman, buildah, got "rkt"/);
});

test('fake engines: with no engine at all the Dockerfiles are written and the commands shown; --push or --load then fail before anything', async (t) => {
  const tools = fakeTools(t, {});
  const result = await build(tools, []);
  assert.equal(result.code, 0, result.stderr);
  for (const name of ['vessel', 'email', 'user', 'consignment', 'gateway']) {
    assert.ok(existsSync(dockerfileOf(name)), name);
    assert.match(
      result.stdout,
      new RegExp(
        `would run: DOCKER_BUILDKIT=1 docker build -f ${dockerfileOf(name)} -t ${imageOf(result.stdout, name)} `,
      ),
    );
  }
  assert.match(result.stdout, /no container engine is usable, so nothing was built/);
  for (const name of ['docker', 'podman', 'buildah'])
    assert.match(
      result.stdout,
      new RegExp(`^  ${name}: ${name} is not installed \\(not on PATH\\); install`, 'm'),
    );

  const load = await build(tools, ['--push', '--load']);
  assert.equal(load.code, 1);
  assert.match(load.stderr, /^berth build: --push and --load: no container engine is usable:\n {2}docker: /m);
});

test('fake engines: --load saves each image into a private folder and imports it into containerd (namespace k8s.io), after --push', async (t) => {
  const tools = fakeTools(t, { buildah: FAKE.buildah, runc: FAKE.runc, ctr: FAKE.ctr });
  const result = await build(tools, ['vessel', '--load', '--push'], {
    CONTAINERD_ADDRESS: '/fake/containerd.sock',
  });
  assert.equal(result.code, 0, result.stderr);
  const calls = tools.calls().filter((call) => call[0] === 'ctr' || ['bud', 'push'].includes(call[1]!));
  const archive = calls.find((call) => call[0] === 'ctr' && call.includes('import'))?.at(-1);
  assert.ok(archive, 'ctr imported an archive');
  assert.match(archive, /\/vessel\.tar$/);
  assert.deepEqual(
    calls.map((call) => call.slice(0, 3)),
    [
      ['ctr', '--address', '/fake/containerd.sock'], // checked before anything is built
      ['buildah', 'bud', '--layers'],
      ['buildah', 'push', imageOf(result.stdout, 'vessel')],
      ['buildah', 'push', imageOf(result.stdout, 'vessel')],
      ['ctr', '--address', '/fake/containerd.sock'],
    ],
  );
  assert.deepEqual(calls[0], [
    'ctr',
    '--address',
    '/fake/containerd.sock',
    '--connect-timeout',
    '5s',
    'version',
  ]);
  assert.deepEqual(calls[2], ['buildah', 'push', imageOf(result.stdout, 'vessel')]);
  assert.deepEqual(calls[3], [
    'buildah',
    'push',
    imageOf(result.stdout, 'vessel'),
    `oci-archive:${archive}:${imageOf(result.stdout, 'vessel')}`,
  ]);
  assert.deepEqual(calls[4], [
    'ctr',
    '--address',
    '/fake/containerd.sock',
    '-n',
    'k8s.io',
    'images',
    'import',
    archive,
  ]);
  assert.ok(
    tools.calls().some((call) => call[0] === 'folder-mode 700'),
    'the archive folder is private',
  );
  assert.ok(!existsSync(dirname(archive)), 'and removed afterwards');
  assert.match(result.stdout, /^vessel: loaded in \d+\.\d s$/m);

  const withoutLoad = await build(tools, ['vessel', '--containerd', '/other/containerd.sock']);
  assert.equal(withoutLoad.code, 2);
  assert.match(withoutLoad.stderr, /--containerd names the socket for --load, which was not given/);
  const flag = await build(tools, ['vessel', '--load', '--containerd', '/other/containerd.sock'], {
    CONTAINERD_ADDRESS: '/fake/containerd.sock',
  });
  assert.equal(flag.code, 0, flag.stderr);
  assert.deepEqual(tools.calls().at(-1)!.slice(0, 3), ['ctr', '--address', '/other/containerd.sock']);
});

test('fake engines: --load without ctr, or with containerd not answering, fails before anything is built', async (t) => {
  const noCtr = fakeTools(t, { buildah: FAKE.buildah, runc: FAKE.runc });
  const missing = await build(noCtr, ['vessel', '--load']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /--load: ctr is not installed \(not on PATH\); --load needs containerd's ctr/);

  const down = fakeTools(t, { buildah: FAKE.buildah, runc: FAKE.runc, ctr: FAKE.ctrWithoutContainerd });
  const unreachable = await build(down, ['vessel', '--load']);
  assert.equal(unreachable.code, 1);
  assert.match(
    unreachable.stderr,
    /--load: `ctr --address \/run\/containerd\/containerd\.sock --connect-timeout 5s version` exited 1: ctr: failed to dial .*; is containerd running there\? Give its socket with --containerd or CONTAINERD_ADDRESS/,
  );
  for (const tools of [noCtr, down]) assert.deepEqual(callsOf(tools, 'buildah', 'bud'), []);
});

test('fake engines: a failed image is named with the exit code and what to do next; the other images are still built', async (t) => {
  const tools = fakeTools(t, { buildah: FAKE.buildah, runc: FAKE.runc, ctr: FAKE.ctr });
  const result = await build(tools, ['--load'], { FAKE_FAIL_IMAGE: 'shippy-user:' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^Error: building at STEP 4: exit status 1$/m, "the engine's own output");
  assert.match(
    result.stderr,
    /^user: build failed: buildah exited 3 after \d+\.\d s; its output above says why\. Next: fix what it reports, then run berth build again$/m,
  );
  assert.match(result.stderr, /^1 image\(s\) failed: user$/m);
  const built = callsOf(tools, 'buildah', 'bud').map((call) => call[call.indexOf('-t') + 1]);
  assert.deepEqual(
    built,
    ['vessel', 'email', 'user', 'consignment', 'gateway'].map((name) => imageOf(result.stdout, name)),
    'every image was tried',
  );
  const loaded = callsOf(tools, 'buildah', 'push').map((call) => call[2]);
  assert.deepEqual(
    loaded,
    ['vessel', 'email', 'consignment', 'gateway'].map((name) => imageOf(result.stdout, name)),
    'the failed one is not loaded',
  );
});
