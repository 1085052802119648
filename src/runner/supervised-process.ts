/**
 * One child process of `berth run`, kept running until it is stopped.
 *
 *   start() ─► spawn ─► probe until ready ─► ready ──(exits by itself)──► restarting
 *                 │                            │                             │
 *                 │                            └─(health check fails N times │
 *                 │                               in a row: SIGTERM, SIGKILL │
 *                 │                               after the grace period)───►┤
 *                 └── exits before ready: start() rejects                    │
 *                                         backoff 0.5 s, 1 s, 2 s … 15 s ◄───┘
 *                                         then spawn, probe, ready again
 *   stop()  ─► no more restarts; SIGTERM, SIGKILL after the grace period
 *
 * The backoff starts over once a process has stayed up for `resetAfterMs`. The
 * health check is what catches a process that is alive but wedged (a busy loop,
 * a stopped process): it never exits, so nothing else would restart it.
 * Children run in their own process group, so a Ctrl-C at the terminal reaches the
 * runner only, and the runner stops them in order.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InstanceLog } from './log-output.ts';
import type { HealthCheck, Probe } from './readiness.ts';
import type { ProcessKind, ProcessState, ProcessStatus } from './state.ts';

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  /** A process up this long has recovered: the next crash starts the backoff over. */
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, resetAfterMs: 10_000 };

export interface HealthPolicy {
  /** Between health checks of a ready process. */
  readonly intervalMs: number;
  /** This many failed checks in a row and the process is restarted. */
  readonly failures: number;
}

/** A process wedged for about 15 s is restarted; a slow moment (one or two missed checks) is not. */
export const DEFAULT_HEALTH: HealthPolicy = { intervalMs: 5000, failures: 3 };
/**
 * The embedded Postgres answers on the thread that runs its queries: a long
 * migration or query keeps it from answering for a while, and a restart then would
 * cut it short. A wedged server (a minute without an answer) is still restarted.
 */
export const POSTGRES_HEALTH: HealthPolicy = { intervalMs: 5000, failures: 12 };

export interface ProcessSpec {
  readonly instance: string;
  readonly service: string;
  readonly kind: ProcessKind;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly probe: Probe;
  /** Run while it is ready; none: only an exit gets it restarted. */
  readonly health?: HealthCheck;
}

export interface SupervisorOptions {
  readonly log: InstanceLog;
  /** A line from the runner about this process (crash, restart). */
  readonly note: (message: string) => void;
  /** Called on every status change, to keep the state file current. */
  readonly changed: () => void;
  readonly backoff: Backoff;
  readonly health: HealthPolicy;
  /** How long a first start may take to become ready. */
  readonly readyTimeoutMs: number;
  /** Between SIGTERM and SIGKILL. */
  readonly graceMs: number;
}

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<string>;
  readonly startedAt: number;
  /** Set when the supervisor stopped it for failing its health check. */
  unhealthy?: string;
}

export class SupervisedProcess {
  readonly spec: ProcessSpec;
  readonly #options: SupervisorOptions;
  #status: ProcessStatus = 'stopped';
  #run: Run | undefined;
  #address: string | undefined;
  #readyAt: number | undefined;
  #restarts = 0;
  #failures = 0;
  /** Aborted by stop(): ends probing and any pending restart. */
  #lifetime: AbortController | undefined;

  constructor(spec: ProcessSpec, options: SupervisorOptions) {
    this.spec = spec;
    this.#options = options;
  }

  get status(): ProcessStatus {
    return this.#status;
  }

  get state(): ProcessState {
    return {
      instance: this.spec.instance,
      service: this.spec.service,
      kind: this.spec.kind,
      pid: this.#run?.child.pid,
      address: this.#address,
      startedAt: this.#run ? new Date(this.#run.startedAt).toISOString() : undefined,
      readyAt: this.#readyAt === undefined ? undefined : new Date(this.#readyAt).toISOString(),
      status: this.#status,
      restarts: this.#restarts,
      logFile: this.#options.log.file,
    };
  }

  /**
   * Spawns the process and resolves once it is ready. Rejects, naming the process
   * and showing its last output, if it exits or is not ready within the timeout
   * (it is then stopped), or if `signal` aborts.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#lifetime) return;
    const lifetime = new AbortController();
    this.#lifetime = lifetime;
    this.#restarts = 0;
    this.#failures = 0;
    const timeout = AbortSignal.timeout(this.#options.readyTimeoutMs);
    const run = this.#spawn();
    const outcome = await this.#untilReady(
      run,
      AbortSignal.any([lifetime.signal, timeout, ...(signal ? [signal] : [])]),
    );
    if (outcome === 'ready') {
      void this.#superviseAfterReady(run, lifetime.signal);
      return;
    }
    const reason =
      outcome === 'aborted'
        ? timeout.aborted
          ? `was not ready within ${this.#options.readyTimeoutMs / 1000} s`
          : 'was interrupted while starting'
        : `exited before it was ready (${outcome})`;
    await this.stop();
    const tail = this.#options.log.tail();
    throw new Error(`${this.spec.instance} ${reason}${tail ? `; its last output:\n${tail}` : ''}`);
  }

  /** Stops it for good (until the next start): SIGTERM, then SIGKILL after the grace period. */
  async stop(): Promise<void> {
    const lifetime = this.#lifetime;
    if (!lifetime) return;
    lifetime.abort();
    const run = this.#run;
    if (run && isRunning(run)) {
      this.#setStatus('stopping');
      await this.#terminate(run);
    }
    this.#lifetime = undefined;
    this.#address = undefined;
    this.#setStatus('stopped');
  }

  /** Last resort when the runner itself is exiting and cannot wait: children stop on their own. */
  terminateNow(): void {
    const run = this.#run;
    if (run && isRunning(run)) this.#signal(run.child, 'SIGTERM');
  }

  /** SIGTERM, then SIGKILL after the grace period (a wedged or stopped process ignores SIGTERM). */
  async #terminate(run: Run): Promise<void> {
    this.#signal(run.child, 'SIGTERM');
    const timer = setTimeout(() => this.#signal(run.child, 'SIGKILL'), this.#options.graceMs);
    await run.exited;
    clearTimeout(timer);
  }

  #spawn(): Run {
    const spec = this.spec;
    const log = this.#options.log;
    this.#address = undefined;
    this.#readyAt = undefined;
    this.#setStatus(this.#restarts > 0 ? 'restarting' : 'starting');
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    log.attach(child.stdout!);
    log.attach(child.stderr!);
    const exited = new Promise<string>((resolve) => {
      child.once('error', (error) => {
        log.line(`cannot start ${spec.command}: ${error.message}`);
        resolve(error.message);
      });
      child.once('exit', (code, signal) => {
        // Its last lines may still be in the pipes: let them be printed first (briefly: a
        // grandchild holding the pipes open must not stall the runner).
        const closed = new Promise((done) => child.once('close', done));
        void Promise.race([closed, sleep(1000)]).then(() =>
          resolve(signal ? `signal ${signal}` : `exit code ${code}`),
        );
      });
    });
    this.#run = { child, exited, startedAt: Date.now() };
    this.#options.changed(); // the pid is known now
    return this.#run;
  }

  /** Probes until ready; or the exit reason; or `aborted`. */
  async #untilReady(run: Run, signal: AbortSignal): Promise<'ready' | 'aborted' | string> {
    let exit: string | undefined;
    void run.exited.then((reason) => {
      exit = reason;
    });
    const pid = run.child.pid;
    while (exit === undefined && !signal.aborted && pid !== undefined) {
      const address = await this.spec.probe(pid).catch(() => undefined);
      if (address !== undefined && exit === undefined) {
        this.#address = address;
        this.#readyAt = Date.now();
        this.#setStatus('ready');
        return 'ready';
      }
      await sleep(50, undefined, { signal }).catch(() => {});
    }
    return exit ?? (signal.aborted ? 'aborted' : await run.exited);
  }

  /** Restarts the process each time it exits by itself or fails its health check, until stop(). */
  async #superviseAfterReady(first: Run, lifetime: AbortSignal): Promise<void> {
    let run = first;
    while (true) {
      if (this.#status === 'ready') void this.#watchHealth(run, lifetime);
      const exit = await run.exited;
      if (lifetime.aborted) return;
      const reason = run.unhealthy ? `${exit}, stopped for ${run.unhealthy}` : exit;
      const upMs = Date.now() - run.startedAt;
      this.#failures = upMs >= this.#options.backoff.resetAfterMs ? 1 : this.#failures + 1;
      this.#restarts += 1;
      const { initialMs, maxMs } = this.#options.backoff;
      const delayMs = Math.min(maxMs, initialMs * 2 ** (this.#failures - 1));
      this.#address = undefined;
      this.#setStatus('restarting');
      this.#options.note(
        `${this.spec.instance} exited (${reason}); restarting in ${formatSeconds(delayMs)} (restart ${this.#restarts})`,
      );
      await sleep(delayMs, undefined, { signal: lifetime }).catch(() => {});
      if (lifetime.aborted) return;
      run = this.#spawn();
      if ((await this.#untilReady(run, lifetime)) === 'ready') {
        this.#options.note(`${this.spec.instance} is ready again at ${this.#address}`);
      }
    }
  }

  /**
   * Checks a ready run every interval; after `failures` failed checks in a row it
   * stops it (marked unhealthy), and the supervisor restarts it as after a crash.
   */
  async #watchHealth(run: Run, lifetime: AbortSignal): Promise<void> {
    const check = this.spec.health;
    const address = this.#address;
    if (!check || address === undefined) return;
    const gone = new AbortController();
    void run.exited.then(() => gone.abort());
    const until = AbortSignal.any([lifetime, gone.signal]);
    const { intervalMs, failures } = this.#options.health;
    let failed = 0;
    while (failed < failures) {
      await sleep(intervalMs, undefined, { signal: until }).catch(() => {});
      if (until.aborted) return;
      const healthy = await check(address).catch(() => false);
      if (until.aborted) return;
      failed = healthy ? 0 : failed + 1;
    }
    run.unhealthy = 'not answering its health check';
    this.#options.note(
      `${this.spec.instance} is ${run.unhealthy} (${failed} checks in a row); stopping it to restart it`,
    );
    this.#address = undefined;
    this.#setStatus('restarting');
    await this.#terminate(run);
  }

  #signal(child: ChildProcess, signal: NodeJS.Signals): void {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }

  #setStatus(status: ProcessStatus): void {
    this.#status = status;
    this.#options.changed();
  }
}

function isRunning(run: Run): boolean {
  return run.child.exitCode === null && run.child.signalCode === null;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
