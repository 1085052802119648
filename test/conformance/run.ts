/**
 * The official Connect conformance suite (connectconformance, server mode)
 * against ConformanceService as a berth service, then behind a berth gateway.
 * `npm test` runs it as its `conformance` phase; alone:
 *   node test/conformance/run.ts [service|gateway ...]
 * What berth supports is in config.yaml; docs/conformance.md says why, and
 * what is out of scope (TLS, HTTP/3, Brotli). Nothing is marked known-failing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const here = import.meta.dirname;
const root = join(here, '..', '..');
/** Only so CI can never hang on it: the suite bounds each case itself (a hung one fails). */
const guardMs = 30 * 60_000;

export type ConformanceTarget = 'service' | 'gateway';

/** Builds (once, cached outside the repo) the runner; its path. */
export function conformanceRunner(): string {
  const built = spawnSync('bash', [join(root, 'tools/conformance/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (built.status !== 0)
    throw new Error('cannot build connectconformance (tools/conformance/build.sh; its log is above)');
  return built.stdout.trim().split('\n').at(-1)!;
}

/** Runs every case against `target`; resolves whether all passed (the runner prints each failure and a total). */
export function runConformance(runner: string, target: ConformanceTarget): Promise<boolean> {
  process.stdout.write(`\n==> Connect conformance suite, server mode, against a berth ${target}\n`);
  const child = spawn(
    runner,
    [
      '--mode',
      'server',
      '--conf',
      join(here, 'config.yaml'),
      // Two cores: fewer cases at once keep the suite's timing cases honest.
      '--parallel',
      '4',
      '--max-servers',
      '2',
      '--',
      process.execPath,
      join(here, 'server.ts'),
    ],
    { cwd: root, env: { ...process.env, BERTH_CONFORMANCE_TARGET: target }, stdio: 'inherit' },
  );
  const guard = setTimeout(() => {
    process.stderr.write(`conformance against the ${target} ran past ${guardMs / 60_000} min; stopping it\n`);
    child.kill('SIGTERM');
  }, guardMs);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve(code === 0);
    }),
  );
}

if (import.meta.main) {
  const targets = (process.argv.slice(2) as ConformanceTarget[]).filter(Boolean);
  const runner = conformanceRunner();
  let ok = true;
  for (const target of targets.length > 0 ? targets : (['service', 'gateway'] as const)) {
    ok = (await runConformance(runner, target)) && ok;
  }
  process.exitCode = ok ? 0 : 1;
}
