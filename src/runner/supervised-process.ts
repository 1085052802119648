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
 *   replace() (berth run --watch) ─► spawn a new process beside the ready one (any
 *             free port) ─► ready ─► it takes over (state, restarts, health checks)
 *             ─► the old one gets SIGTERM and drains; if the new one fails, it is
 *             stopped and the old one keeps serving
 *
 * The backoff starts over once a process has stayed up for `resetAfterMs`
 * (restart-policy.ts). The health check is what catches a process that is alive but
 * wedged (a busy loop, a stopped process): it never exits, so nothing else would
 * restart it. Each spawned child, its output and its exit: child-run.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunning, launchRun, type Run, signalRun, terminateRun } from './child-run.ts';
import { formatSeconds, type InstanceLog } from './log-output.ts';
import type { HealthCheck, Probe } from './readiness.ts';
import { type Backoff, backoffDelayMs, failuresAfterCrash, type HealthPolicy } from './restart-policy.ts';
import type { ProcessKind, ProcessState, ProcessStatus } from './state.ts';

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

/**
 * What replace() did: `replaced` (a new process serves, the old one drains),
 * `restarting` (it was waiting out a crash backoff: it restarts now), `not running`
 * (stopped, or between a spawn and ready: nothing serves that could be replaced).
 */
export type ReplaceOutcome = 'replaced' | 'restarting' | 'not running';

/** Called once the new process is ready, before the old one is stopped; rejecting (or `signal`) cancels. */
export type BeforeHandover = (address: string, signal: AbortSignal) => Promise<void>;

export class SupervisedProcess {
  readonly spec: ProcessSpec;
  readonly #options: SupervisorOptions;
  #status: ProcessStatus = 'stopped';
  #run: Run | undefined;
  #address: string | undefined;
  #readyAt: number | undefined;
  #restarts = 0;
  #reloads = 0;
  #failures = 0;
  /** Aborted by replace() to end a backoff wait at once. */
  #backoff: AbortController | undefined;
  /** While replace() runs: the new run once it took over, else undefined. */
  #replacing: Promise<Run | undefined> | undefined;
  #incoming: Run | undefined;
  /** Old runs that replace() stopped, until they have drained and exited. */
  readonly #draining = new Set<Promise<void>>();
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
      reloads: this.#reloads,
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
    this.#reloads = 0;
    this.#failures = 0;
    const timeout = AbortSignal.timeout(this.#options.readyTimeoutMs);
    const run = this.#spawn();
    const outcome = await this.#untilReady(
      run,
      AbortSignal.any([lifetime.signal, timeout, ...(signal ? [signal] : [])]),
    );
    if (typeof outcome === 'object') {
      this.#markReady(outcome.address);
      void this.#superviseAfterReady(run, lifetime.signal);
      return;
    }
    const reason = this.#failure(outcome, timeout);
    await this.stop();
    const tail = this.#options.log.tail();
    throw new Error(`${this.spec.instance} ${reason}${tail ? `; its last output:\n${tail}` : ''}`);
  }

  /**
   * Starts the process anew beside the one that serves (new code; any free port,
   * since the old one still holds its own). Once the new one is ready and
   * `beforeHandover` resolved, it is this process: its pid, address and state,
   * with the restart count carried over; the old one gets SIGTERM and drains
   * (stop() waits for it). Rejects, naming the process, if the new one exits or
   * is not ready within the ready timeout: it is stopped, the old one keeps serving.
   */
  async replace(beforeHandover: BeforeHandover, signal?: AbortSignal): Promise<ReplaceOutcome> {
    const lifetime = this.#lifetime;
    if (!lifetime) return 'not running';
    if (this.#backoff) {
      this.#backoff.abort();
      return 'restarting';
    }
    const current = this.#run;
    if (this.#status !== 'ready' || !current || this.#replacing) return 'not running';
    const timeout = AbortSignal.timeout(this.#options.readyTimeoutMs);
    const until = AbortSignal.any([lifetime.signal, timeout, ...(signal ? [signal] : [])]);
    const handover = Promise.withResolvers<Run | undefined>();
    this.#replacing = handover.promise;
    const incoming = this.#launch({ ...this.spec.env, PORT: '0' });
    this.#incoming = incoming;
    try {
      const outcome = await this.#untilReady(incoming, until);
      const handedOver =
        typeof outcome === 'object' &&
        (await beforeHandover(outcome.address, until).then(
          () => !until.aborted,
          () => false,
        ));
      if (!handedOver || typeof outcome !== 'object') {
        if (isRunning(incoming)) await this.#terminate(incoming);
        const reason = this.#failure(typeof outcome === 'object' ? 'aborted' : outcome, timeout);
        throw new Error(`the new ${this.spec.instance} ${reason}`);
      }
      current.replacedBy = incoming;
      this.#run = incoming;
      this.#reloads += 1;
      this.#markReady(outcome.address);
      handover.resolve(incoming);
      const drained = this.#terminate(current).finally(() => this.#draining.delete(drained));
      this.#draining.add(drained);
      return 'replaced';
    } finally {
      this.#incoming = undefined;
      this.#replacing = undefined;
      handover.resolve(undefined);
    }
  }

  /** Stops it for good (until the next start): SIGTERM, then SIGKILL after the grace period. */
  async stop(): Promise<void> {
    const lifetime = this.#lifetime;
    if (!lifetime) return;
    lifetime.abort();
    // A replacement under way stops its new process on the abort; wait for that.
    await this.#replacing;
    const run = this.#run;
    if (run && isRunning(run)) {
      this.#setStatus('stopping');
      await this.#terminate(run);
    }
    await Promise.all(this.#draining);
    this.#lifetime = undefined;
    this.#address = undefined;
    this.#setStatus('stopped');
  }

  /** Last resort when the runner itself is exiting and cannot wait: children stop on their own. */
  terminateNow(): void {
    for (const run of [this.#run, this.#incoming]) {
      if (run && isRunning(run)) signalRun(run, 'SIGTERM');
    }
  }

  #terminate(run: Run): Promise<void> {
    return terminateRun(run, this.#options.graceMs);
  }

  /** Spawns the process as this one's current run. */
  #spawn(): Run {
    this.#address = undefined;
    this.#readyAt = undefined;
    this.#setStatus(this.#restarts > 0 ? 'restarting' : 'starting');
    this.#run = this.#launch(this.spec.env);
    this.#options.changed(); // the pid is known now
    return this.#run;
  }

  #launch(env: Readonly<Record<string, string>>): Run {
    return launchRun(this.spec, env, this.#options.log);
  }

  /** Probes until ready (its address); or the exit reason; or `aborted`. */
  async #untilReady(run: Run, signal: AbortSignal): Promise<{ address: string } | 'aborted' | string> {
    let exit: string | undefined;
    void run.exited.then((reason) => {
      exit = reason;
    });
    const pid = run.child.pid;
    while (exit === undefined && !signal.aborted && pid !== undefined) {
      const address = await this.spec.probe(pid).catch(() => undefined);
      if (address !== undefined && exit === undefined) return { address };
      await sleep(50, undefined, { signal }).catch(() => {});
    }
    return exit ?? (signal.aborted ? 'aborted' : await run.exited);
  }

  #markReady(address: string): void {
    this.#address = address;
    this.#readyAt = Date.now();
    this.#setStatus('ready');
  }

  /** Why a start failed, from what #untilReady said. */
  #failure(outcome: string, timeout: AbortSignal): string {
    if (outcome !== 'aborted') return `exited before it was ready (${outcome})`;
    return timeout.aborted
      ? `was not ready within ${this.#options.readyTimeoutMs / 1000} s`
      : 'was interrupted while starting';
  }

  /** Restarts the process each time it exits by itself or fails its health check, until stop(). */
  async #superviseAfterReady(first: Run, lifetime: AbortSignal): Promise<void> {
    let run = first;
    while (true) {
      if (this.#status === 'ready') void this.#watchHealth(run, lifetime);
      const exit = await run.exited;
      if (lifetime.aborted) return;
      // Stopped by replace(); or it died while a replacement starts, which may take over.
      if (!run.replacedBy && this.#replacing) this.#setStatus('restarting');
      const next = run.replacedBy ?? (await this.#replacing);
      if (next) {
        run = next;
        continue;
      }
      const reason = run.unhealthy ? `${exit}, stopped for ${run.unhealthy}` : exit;
      const upMs = Date.now() - run.startedAt;
      this.#failures = failuresAfterCrash(this.#options.backoff, this.#failures, upMs);
      this.#restarts += 1;
      const delayMs = backoffDelayMs(this.#options.backoff, this.#failures);
      this.#address = undefined;
      this.#setStatus('restarting');
      this.#options.note(
        `${this.spec.instance} exited (${reason}); restarting in ${formatSeconds(delayMs)} (restart ${this.#restarts})`,
      );
      this.#backoff = new AbortController();
      await sleep(delayMs, undefined, { signal: AbortSignal.any([lifetime, this.#backoff.signal]) }).catch(
        () => {},
      );
      this.#backoff = undefined;
      if (lifetime.aborted) return;
      run = this.#spawn();
      const outcome = await this.#untilReady(run, lifetime);
      if (typeof outcome === 'object') {
        this.#markReady(outcome.address);
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
    // Replaced meanwhile (berth run --watch): the address and status are the new run's now.
    if (run.replacedBy || run !== this.#run) return;
    run.unhealthy = 'not answering its health check';
    this.#options.note(
      `${this.spec.instance} is ${run.unhealthy} (${failed} checks in a row); stopping it to restart it`,
    );
    this.#address = undefined;
    this.#setStatus('restarting');
    await this.#terminate(run);
  }

  #setStatus(status: ProcessStatus): void {
    this.#status = status;
    this.#options.changed();
  }
}
