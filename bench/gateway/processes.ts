/**
 * The server processes of one target: spawned with this Node, ready once they
 * print where they listen, stopped by SIGTERM (SIGKILL after a grace period).
 * Every process spawned is tracked, so an interrupted run leaves none behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { berthNodeFlags } from '../../src/service/node-flags.ts';

const here = import.meta.dirname;
export const repoRoot = resolve(here, '../..');
const live = new Set<ServerProcess>();
/** USER_HZ: 100 on every Linux ABI Node runs on. */
const clockTicksPerSecond = 100;

export class ServerProcess {
  readonly label: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  #output = '';

  constructor(label: string, child: ChildProcess) {
    this.label = label;
    this.child = child;
    const collect = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-16_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((done) => child.once('exit', () => done()));
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resident memory now, in MB (VmRSS). */
  rssMb(): number {
    return this.#statusMb('VmRSS');
  }

  /** The most resident memory the process ever had, in MB (VmHWM, the high-water mark). */
  peakRssMb(): number {
    return this.#statusMb('VmHWM');
  }

  /** A memory field of /proc/<pid>/status, in MB. */
  #statusMb(field: 'VmRSS' | 'VmHWM'): number {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(
      readFileSync(`/proc/${this.pid}/status`, 'utf8'),
    );
    if (!match) throw new Error(`no ${field} for ${this.label} (pid ${this.pid})`);
    return Number(match[1]) / 1024;
  }

  /** CPU time used so far (user + system), in ms, from /proc/<pid>/stat. */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state, field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond;
  }

  /** Resolves with the address (`host:port`) the process logs as `"address"` once listening. */
  async listening(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /"address":"([^"]+:\d+)"/.exec(this.#output);
      if (match) return match[1];
      if (!this.running) throw new Error(`${this.label} exited before listening:\n${this.#output}`);
      if (Date.now() > deadline)
        throw new Error(`${this.label} did not listen within ${timeoutMs} ms:\n${this.#output}`);
      await new Promise((done) => setTimeout(done, 25));
    }
  }

  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Starts `bench/gateway/<file>` with this Node, the given Node flags and the environment added. */
export function startServer(
  label: string,
  file: string,
  env: Readonly<Record<string, string>> = {},
  nodeArgs: readonly string[] = [],
): ServerProcess {
  const child = spawn(process.execPath, [...nodeArgs, join(here, file)], {
    cwd: repoRoot,
    // Every target runs as `berth run` starts processes: with Node's compile cache, so
    // warm starts skip TypeScript stripping (its ~18 MB would otherwise count as RSS).
    env: {
      ...process.env,
      NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'node-compile-cache'),
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ServerProcess(label, child);
}

/** berth's processes run with the Node flags `berth run` and the images give them. */
export const berthNodeArgs: readonly string[] = berthNodeFlags;

/** The Node flags and environment every process of a run gets, and those only berth's get. */
export interface LaunchSettings {
  /** Node flags of berth's gateway and services (the young-generation cap; --cpu-prof when profiling). */
  readonly berthNodeArgs: readonly string[];
  /** A 0700 folder for memory samples (memory-trace.ts), when the run traces memory. */
  readonly memoryTraceDir?: string;
}

/** Starts a target's processes: berth's with berth's Node flags, the baselines' with Node's defaults. */
export class Launcher {
  readonly #settings: LaunchSettings;

  constructor(settings: LaunchSettings) {
    this.#settings = settings;
  }

  /** A berth gateway or service. */
  berth(label: string, file: string, env: Readonly<Record<string, string>> = {}): ServerProcess {
    return this.#start(label, file, env, this.#settings.berthNodeArgs);
  }

  /** A baseline's process (bare node:http, Moleculer), as its own tooling would start it. */
  baseline(label: string, file: string, env: Readonly<Record<string, string>> = {}): ServerProcess {
    return this.#start(label, file, env, []);
  }

  #start(
    label: string,
    file: string,
    env: Readonly<Record<string, string>>,
    nodeArgs: readonly string[],
  ): ServerProcess {
    const dir = this.#settings.memoryTraceDir;
    if (dir === undefined) return startServer(label, file, env, nodeArgs);
    return startServer(label, file, { ...env, BENCH_MEMORY_TRACE_DIR: dir }, [
      '--import',
      join(here, 'memory-trace.ts'),
      ...nodeArgs,
    ]);
  }
}

/** Stops every process still running (SIGTERM, then SIGKILL after the grace period). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((server) => server.stop()));
}

/** Kills whatever is still running (on an interrupted run). */
export function killAll(): void {
  for (const server of live) server.child.kill('SIGKILL');
}
