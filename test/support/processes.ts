/**
 * Service entry files (files that call runMain) run as real child processes, as
 * `berth run` runs them: a shared local registry folder, JSON logs collected, ready
 * once the instance is registered and `/readyz` answers 200, stopped by a signal.
 * Every process is killed by the cleanup hook it was given (node:test's `after`,
 * `t.after`, or fileCleanup() for `before` hooks), so a failing test never leaves
 * one behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalRegistry } from '../../src/registry/local-registry.ts';
import type { ServiceInstance } from '../../src/registry/registry.ts';
import type { Cleanup } from './cleanup.ts';
import { waitFor } from './wait.ts';

export type { Cleanup } from './cleanup.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');

export interface TempRegistry {
  readonly dir: string;
  readonly registry: LocalRegistry;
}

/** A LocalRegistry in a fresh temp folder, closed and removed by `cleanup`. */
export async function tempRegistry(cleanup: Cleanup): Promise<TempRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-test-registry-'));
  const registry = new LocalRegistry({ dir });
  cleanup(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, registry };
}

export interface ServiceProcessOptions {
  /** Entry file, relative to the repository root or absolute. */
  readonly entry: string;
  /** Folder of the local registry the process registers in. */
  readonly registryDir: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cleanup: Cleanup;
  /** How long to wait for registration and readiness. */
  readonly readyTimeoutMs?: number;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class ServiceProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  #output = '';
  #instance: ServiceInstance | undefined;

  constructor(child: ChildProcess) {
    this.child = child;
    const collect = (chunk: Buffer) => {
      // The tail is what explains a failure; keep memory bounded under load.
      this.#output = (this.#output + chunk.toString('utf8')).slice(-64_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** stdout and stderr so far (the last 64 kB). */
  get output(): string {
    return this.#output;
  }

  /** The instance it registered, once startServiceProcess has resolved. */
  get instance(): ServiceInstance {
    if (!this.#instance) throw new Error(`process ${this.pid} has not registered`);
    return this.#instance;
  }

  get url(): string {
    return `http://${this.instance.address}`;
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs` if it is still running. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<Exit> {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Resolves once registered in `registry` and ready; fails at once, with the output, if it exits. */
  async waitUntilReady(registry: LocalRegistry, timeoutMs: number): Promise<ServiceInstance> {
    const pid = String(this.pid);
    const fail = (why: string) => new Error(`process ${pid} ${why}\n--- its output ---\n${this.#output}`);
    const found = await waitFor(
      async () =>
        this.running
          ? (await registry.list()).find(
              (candidate) => candidate.metadata.pid === pid && !candidate.name.startsWith('berth.'),
            )
          : 'exited',
      { timeoutMs, what: `process ${pid} to register` },
    ).catch((error: Error) => {
      throw fail(error.message);
    });
    if (found === 'exited') throw fail('exited before it registered');
    await waitFor(
      async () => {
        if (!this.running) return 'exited';
        const response = await fetch(`http://${found.address}/readyz`);
        await response.body?.cancel();
        return response.status === 200;
      },
      { timeoutMs, what: `${found.id} to be ready` },
    ).catch((error: Error) => {
      throw fail(error.message);
    });
    if (!this.running) throw fail('exited before it was ready');
    this.#instance = found;
    return found;
  }
}

/** Spawns `entry` with Node (this test's own binary) and resolves once it is registered and ready. */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    BERTH_REGISTRY: 'local',
    BERTH_REGISTRY_DIR: options.registryDir,
    BERTH_HOST: '127.0.0.1',
    PORT: '0',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  // Set by `node --test` for its own children; the service is not one of them.
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [resolve(repoRoot, options.entry)], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const service = new ServiceProcess(child);
  options.cleanup(() => service.stop('SIGKILL'));
  // Also when this process exits without running its hooks (a crash, process.exit).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void service.exited.then(() => process.off('exit', killOnExit));
  const registry = new LocalRegistry({ dir: options.registryDir });
  try {
    // Generous: on a busy 2-core machine three services starting at once take seconds.
    await service.waitUntilReady(registry, options.readyTimeoutMs ?? 30_000);
  } finally {
    await registry.close();
  }
  return service;
}

/** The greeter example as a process. */
export function startGreeter(
  registryDir: string,
  cleanup: Cleanup,
  env?: Readonly<Record<string, string>>,
): Promise<ServiceProcess> {
  return startServiceProcess({ entry: 'examples/greeter/greeter.ts', registryDir, cleanup, env });
}
