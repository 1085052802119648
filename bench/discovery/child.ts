/**
 * A child process of the benchmark with an IPC channel: started with this Node,
 * awaited message by message (each wait bounded), stopped by its pid. Every child
 * started is tracked, so an interrupted run leaves none behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const here = import.meta.dirname;
export const repoRoot = resolve(here, '../..');
const live = new Set<IpcChild<unknown, { type: string }>>();

export class IpcChild<Out, In extends { type: string }> {
  readonly label: string;
  readonly #child: ChildProcess;
  readonly #inbox: In[] = [];
  #wake: (() => void) | undefined;
  #output = '';
  readonly exited: Promise<void>;

  constructor(label: string, file: string, args: readonly string[], env: Readonly<Record<string, string>>) {
    this.label = label;
    this.#child = spawn(process.execPath, [join(here, file), ...args], {
      cwd: repoRoot,
      env: {
        ...process.env,
        // As `berth run` starts processes: warm starts skip TypeScript stripping,
        // whose ~18 MB would otherwise count in the follower's RSS.
        NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'node-compile-cache'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // JSON is the default; "advanced" would take bigints, but numbers suffice.
      serialization: 'json',
    });
    const collect = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-8_000);
    };
    this.#child.stdout?.on('data', collect);
    this.#child.stderr?.on('data', collect);
    this.#child.on('message', (message) => {
      this.#inbox.push(message as In);
      this.#notify();
    });
    this.exited = new Promise((done) =>
      this.#child.once('exit', () => {
        this.#notify();
        done();
      }),
    );
    live.add(this as IpcChild<unknown, { type: string }>);
    void this.exited.then(() => live.delete(this as IpcChild<unknown, { type: string }>));
  }

  get pid(): number {
    return this.#child.pid!;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  send(message: Out): void {
    if (!this.running) throw new Error(`${this.label} is not running:\n${this.#output}`);
    this.#child.send(message as object);
  }

  /** The next message of `type`; a `failed` message, an exit or the timeout is an error. */
  async next<T extends In['type']>(type: T, timeoutMs: number): Promise<Extract<In, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#inbox.findIndex((message) => message.type === type || message.type === 'failed');
      if (index >= 0) {
        const [message] = this.#inbox.splice(index, 1);
        if (message!.type === 'failed') {
          const why = (message as unknown as { message: string }).message;
          throw new Error(`${this.label} failed: ${why}\n${this.#output}`);
        }
        return message as Extract<In, { type: T }>;
      }
      if (!this.running)
        throw new Error(`${this.label} exited while waiting for "${type}":\n${this.#output}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no "${type}" within ${timeoutMs} ms:\n${this.#output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Asks it to stop (`stop` message), then SIGKILL by pid after the grace period. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    try {
      this.#child.send({ type: 'stop' });
    } catch {
      this.#child.kill('SIGTERM');
    }
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.running) this.#child.kill('SIGKILL');
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Stops every child still running. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop()));
}

/** Kills every child still running (on an interrupted run). */
export function killAllChildren(): void {
  for (const child of live) child.kill();
}
