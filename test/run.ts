/**
 * `npm test` after the typecheck and lint: every suite, in three phases.
 *
 *  1. embedded   unit, integration, shippy end-to-end and browser tests on the
 *                embedded defaults (PGlite, direct broker, local registry);
 *  2. real       shippy's end-to-end suite again, against a throwaway PostgreSQL
 *                and NATS JetStream (Debian's postgresql and nats-server);
 *  3. conformance the official Connect conformance suite (connectconformance,
 *                built once by tools/conformance/build.sh) against a berth
 *                service, the same service behind the gateway, and berth's client;
 *  4. kube       the Kubernetes suites, against the control plane of tools/k8s
 *                (started here, stopped at the end) or BERTH_TEST_KUBECONFIG;
 *  5. pods       shippy on real pods: the control plane again, now with its real
 *                node (BERTH_K8S_REAL_NODE=1: containerd, kubelet, kube-proxy),
 *                images built and loaded here.
 *
 * BERTH_TEST_PHASES=embedded,real picks phases. Files run one at a time: most
 * start real processes, and two cores cannot run several such suites at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { join } from 'node:path';
import { conformanceRunner, conformanceTargets, runConformance } from './conformance/run.ts';
import { parseExports } from './support/exports.ts';

const root = join(import.meta.dirname, '..');
const phases = (process.env.BERTH_TEST_PHASES ?? 'embedded,real,conformance,kube,pods').split(',');
const e2e = ['examples/shippy/test/e2e/*.test.ts'];

function files(patterns: string[], exclude: (file: string) => boolean = () => false): string[] {
  return patterns
    .flatMap((pattern) => globSync(pattern, { cwd: root }))
    .filter((file) => !exclude(file))
    .sort();
}

function runTests(label: string, testFiles: string[], env: NodeJS.ProcessEnv): Promise<boolean> {
  process.stdout.write(`\n==> ${label}: ${testFiles.length} files\n`);
  const child = spawn(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-timeout=600000', '--test-reporter=spec', ...testFiles],
    { cwd: root, env, stdio: 'inherit' },
  );
  return new Promise((resolve) => child.on('exit', (code) => resolve(code === 0)));
}

/** Without DATABASE_URL/NATS_URL and friends, so the embedded phase is really embedded. */
function embeddedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'NATS_URL', 'BERTH_REAL_BACKENDS_DIR']) delete env[name];
  return env;
}

const results: Array<[string, boolean]> = [];

if (phases.includes('embedded')) {
  const all = files(['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'], (file) =>
    /^test\/(kube|pods)\//.test(file),
  );
  results.push(['embedded', await runTests('embedded defaults', all, embeddedEnv())]);
}

if (phases.includes('real')) {
  const started = spawnSync('bash', [join(root, 'test/support/real-backends.sh'), 'start'], {
    encoding: 'utf8',
  });
  if (started.status !== 0) {
    process.stderr.write(`cannot start PostgreSQL and NATS for the real-backend phase:\n${started.stderr}\n`);
    results.push(['real backends', false]);
  } else {
    const env = embeddedEnv();
    Object.assign(env, parseExports(started.stdout));
    try {
      results.push([
        'real backends',
        await runTests(`real PostgreSQL (${env.DATABASE_URL}) and NATS (${env.NATS_URL})`, files(e2e), env),
      ]);
    } finally {
      spawnSync('bash', [join(root, 'test/support/real-backends.sh'), 'stop', env.BERTH_REAL_BACKENDS_DIR!], {
        stdio: 'inherit',
      });
    }
  }
}

if (phases.includes('conformance')) {
  let runner: string | undefined;
  try {
    runner = conformanceRunner();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
  }
  for (const target of conformanceTargets) {
    results.push([`conformance (${target})`, runner !== undefined && (await runConformance(runner, target))]);
  }
}

const localControlPlane = !process.env.BERTH_TEST_KUBECONFIG && !process.env.BERTH_KUBE_CONTEXT;

/** A Kubernetes phase; the local control plane it started (if any) is stopped at its end. */
async function kubePhase(label: string, pattern: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    return await runTests(label, files([pattern]), env);
  } finally {
    if (localControlPlane) spawnSync('bash', [join(root, 'tools/k8s/down.sh')], { stdio: 'inherit' });
  }
}

if (phases.includes('kube')) {
  results.push(['kubernetes', await kubePhase('Kubernetes', 'test/kube/*.test.ts', process.env)]);
}

if (phases.includes('pods')) {
  // The base and stand-in images (cached: seconds when warm) and the buildah storage holding them.
  const images = spawnSync('bash', [join(root, 'tools/images/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (images.status !== 0) {
    process.stderr.write(
      'cannot build the images of the real node (tools/images/build.sh; its log is above)\n',
    );
    results.push(['real pods', false]);
  } else {
    const env = { ...process.env, ...parseExports(images.stdout), BERTH_K8S_REAL_NODE: '1' };
    results.push(['real pods', await kubePhase('Kubernetes on real pods', 'test/pods/*.test.ts', env)]);
  }
}

process.stdout.write('\n');
for (const [phase, ok] of results) process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  ${phase}\n`);
process.exitCode = results.every(([, ok]) => ok) && results.length > 0 ? 0 : 1;
