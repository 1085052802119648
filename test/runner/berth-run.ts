/**
 * `berth run` as a test drives it: the real CLI in a child process, as `npm start`
 * runs it, with a throwaway data dir and a free gateway port. Ready once the state
 * file says so. The cleanup hook stops it (SIGINT, then SIGKILL for the runner and
 * every process its state file lists: they run in process groups of their own and
 * would outlive a killed runner) and removes the data dir.
 */
import { freePort } from '../../src/runner/plan.ts';

export { freePort } from '../../src/runner/plan.ts';

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type RunState, readState } from '../../src/runner/state.ts';
import type { Cleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');
const cli = join(repoRoot, 'src/cli/main.ts');

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The environment of a berth child: this one, minus node:test's marker for its own children. */
export function childEnv(extra: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== 'NODE_TEST_CONTEXT') env[key] = value;
  }
  return { ...env, ...extra };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a `berth` command to completion; one still running after `timeoutMs` is killed (a test must not hang). */
export function berth(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: repoRoot,
      env: childEnv(env),
      timeout: timeoutMs,
      killSignal: 'SIGINT',
    });
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

export interface BerthRunOptions {
  /** Folder or berth.yaml, relative to the repository root. */
  readonly target: string;
  /** More `berth run` arguments (`--only`, `--env`); `--port` is added unless given. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Reuse a data dir (a restart); default a fresh one, removed by the cleanup. */
  readonly dataDir?: string;
  readonly cleanup: Cleanup;
  /** Wait for the ready state; default true. */
  readonly waitReady?: boolean;
  readonly readyTimeoutMs?: number;
}

export class BerthRun {
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly port: number;
  readonly exited: Promise<Exit>;
  #output = '';
  #stderr = '';

  private constructor(child: ChildProcess, dataDir: string, port: number) {
    this.child = child;
    this.dataDir = dataDir;
    this.port = port;
    child.stdout!.on('data', (chunk: Buffer) => {
      // Kept whole: tests look for lines anywhere in it; a run's output stays small.
      this.#output += chunk.toString('utf8');
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString('utf8');
    });
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  static async start(options: BerthRunOptions): Promise<BerthRun> {
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-run-test-')));
    if (options.dataDir === undefined) {
      options.cleanup(() => rm(dataDir, { recursive: true, force: true }));
    }
    const args = [...(options.args ?? [])];
    let port: number;
    if (args.includes('--port')) port = Number(args[args.indexOf('--port') + 1]);
    else {
      port = await freePort();
      args.push('--port', String(port));
    }
    const child = spawn(process.execPath, [cli, 'run', options.target, ...args], {
      cwd: repoRoot,
      env: childEnv({ ...options.env, BERTH_DATA_DIR: dataDir }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run = new BerthRun(child, dataDir, port);
    options.cleanup(() => run.kill());
    if (options.waitReady !== false) await run.waitReady(options.readyTimeoutMs);
    return run;
  }

  get output(): string {
    return this.#output;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get gateway(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The state file; throws if there is none. */
  state(): RunState {
    const state = readState(this.dataDir);
    if (!state) throw new Error(`no state file in ${this.dataDir}`);
    return state;
  }

  /** Pids of the instances of `service` that are ready. */
  pids(service: string): number[] {
    return this.state()
      .processes.filter((process) => process.service === service && process.status === 'ready')
      .map((process) => process.pid!);
  }

  async waitReady(timeoutMs = 120_000): Promise<RunState> {
    const state = await this.#waitReadyState(timeoutMs);
    // The runner records readiness in its state file, then prints the summary; the
    // pipe may deliver that line a moment after the file is read.
    await this.waitForOutput(/ is ready in \d/, 10_000);
    return state;
  }

  #waitReadyState(timeoutMs: number): Promise<RunState> {
    return waitFor(
      () => {
        if (!this.running)
          throw new Error(`berth run exited:\n${this.#stderr}\n${this.#output.slice(-4000)}`);
        const state = readState(this.dataDir);
        return state && state.runner.pid === this.child.pid && state.readyMs !== undefined
          ? state
          : undefined;
      },
      { timeoutMs, intervalMs: 100, what: 'berth run to be ready' },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- output ---\n${this.#output.slice(-4000)}\n${this.#stderr}`);
    });
  }

  /** Resolves once the output has a line matching `pattern`. */
  waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<true> {
    return waitFor(() => pattern.test(this.#output), { timeoutMs, what: `output matching ${pattern}` });
  }

  /** Ctrl-C, as a person would: resolves with the runner's exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** Cleanup: a graceful stop, else SIGKILL; then SIGKILL for whatever it listed that still runs. */
  async kill(): Promise<void> {
    const listed = readState(this.dataDir)?.processes.flatMap((process) => process.pid ?? []) ?? [];
    if (this.running) {
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(timer);
    }
    for (const pid of listed.filter(isAlive)) process.kill(pid, 'SIGKILL');
  }
}

/** POST /rpc through the gateway. */
export async function rpc(
  gateway: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${gateway}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
