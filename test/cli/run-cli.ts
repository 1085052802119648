/** Runs `berth` as a user does: `node src/cli/main.ts ...` in a child process. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot } from '../support/processes.ts';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export const cliMain = resolve(repoRoot, 'src/cli/main.ts');

/** Environment for a CLI child: this one, the registry folder, and no node:test plumbing. */
export function cliEnv(registryDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_REGISTRY_DIR: registryDir, NO_COLOR: '1', ...extra };
  // Set by `node --test` for its own children; the CLI is not one of them.
  delete env.NODE_TEST_CONTEXT;
  return env;
}

export function runCli(registryDir: string, args: readonly string[]): Promise<CliResult> {
  // Every command under test ends by itself; a hung one must not outlive the test.
  return runBerth(args, cliEnv(registryDir), 20_000);
}

/** `node src/cli/main.ts <args>` with `env`, killed after `timeoutMs`; its exit code and output. */
export function runBerth(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<CliResult> {
  const child = spawn(process.execPath, [cliMain, ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}
