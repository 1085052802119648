/**
 * The official Connect conformance suite (connectconformance):
 *  - service: server mode, ConformanceService as a berth service (server.ts);
 *  - gateway: server mode, the same service behind a berth gateway;
 *  - client:  client mode, berth's ServiceCaller and typed-client reading (client.ts)
 *             calling the suite's reference server.
 * `npm test` runs all three as its `conformance` phase; alone:
 *   node test/conformance/run.ts [service|gateway|client ...]
 * What berth supports is in config.yaml and client-config.yaml; docs/conformance.md
 * says why, and what is out of scope. Nothing is known-failing or known-flaky.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const here = import.meta.dirname;
const root = join(here, '..', '..');
/** Only so CI can never hang on it: the suite bounds each case itself (a hung one fails). */
const guardMs = 30 * 60_000;

export type ConformanceTarget = 'service' | 'gateway' | 'client';
export const conformanceTargets: readonly ConformanceTarget[] = ['service', 'gateway', 'client'];

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
  const client = target === 'client';
  process.stdout.write(
    `\n==> Connect conformance suite, ${client ? "client mode, berth's client" : `server mode, against a berth ${target}`}\n`,
  );
  const child = spawn(
    runner,
    [
      '--mode',
      client ? 'client' : 'server',
      '--conf',
      join(here, client ? 'client-config.yaml' : 'config.yaml'),
      // Two cores: fewer cases at once keep the suite's timing cases honest.
      ...(client ? [] : ['--parallel', '4', '--max-servers', '2']),
      '--',
      process.execPath,
      join(here, client ? 'client.ts' : 'server.ts'),
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
  for (const target of targets.length > 0 ? targets : conformanceTargets) {
    ok = (await runConformance(runner, target)) && ok;
  }
  process.exitCode = ok ? 0 : 1;
}
