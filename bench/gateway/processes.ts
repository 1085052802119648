/**
 * The server processes of one target: spawned with this Node, ready once they
 * print where they listen, stopped by SIGTERM (SIGKILL after a grace period).
 * Every process spawned is tracked, so an interrupted run leaves none behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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

  /** Resident memory in MB, from /proc/<pid>/status. */
  rssMb(): number {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    if (!match) throw new Error(`no VmRSS for ${this.label} (pid ${this.pid})`);
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

/** Starts `bench/gateway/<file>` with this Node and the given environment added. */
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

/** Stops every process still running (SIGTERM, then SIGKILL after the grace period). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((server) => server.stop()));
}

/** Kills whatever is still running (on an interrupted run). */
export function killAll(): void {
  for (const server of live) server.child.kill('SIGKILL');
}
