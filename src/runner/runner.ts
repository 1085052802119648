/**
 * `berth run`: a system's processes on this machine, as docker-compose would run
 * its containers. Reference: src/runner/README.md.
 *
 *   start():  refuse if this data dir's system already runs; stop the leftovers of
 *             a runner that was killed; then bring every selected unit up as soon
 *             as what it depends on is ready (in parallel otherwise):
 *               postgres (embedded PGlite, if a service needs it) ─┐
 *               gateway                                             ├─► ready summary
 *               services, each after its dependsOn (and postgres) ─┘
 *   running:  crashed processes restart with backoff; the state file tracks pids,
 *             addresses and restarts; the control endpoint and the dashboard stop and
 *             start units by name (a service, the gateway, postgres);
 *             with `watch`, changed files reload their services (watch.ts).
 *   stop():   the gateway first (no new requests), then each service after
 *             everything that depends on it, then postgres: SIGTERM, SIGKILL after
 *             the grace period.
 */

import { rmSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SystemFile } from '../config/system-file.ts';
import type { Dashboard } from '../dashboard/dashboard-server.ts';
import { LocalRegistry } from '../registry/local-registry.ts';
import { compiledProcesses, warmCompileCache } from './compile-cache.ts';
import { ControlRequestError, ControlServer } from './control.ts';
import { ensurePortFree, stopLeftovers } from './leftovers.ts';
import { LogOutput } from './log-output.ts';
import { type Env, type Plan, type PlannedUnit, planSystem } from './plan.ts';
import { makePrivateDir } from './private-files.ts';
import {
  answersHealthz,
  answersPostgres,
  gatewaySees,
  type HealthCheck,
  httpProbe,
  type Probe,
  postgresProbe,
  serviceProbe,
} from './readiness.ts';
import { formatReadySummary, shownPath } from './ready-summary.ts';
import {
  type Backoff,
  DEFAULT_BACKOFF,
  DEFAULT_HEALTH,
  type HealthPolicy,
  POSTGRES_HEALTH,
} from './restart-policy.ts';
import { brokerNotStoppable, brokerOf, linesToDashboard, startRunDashboard } from './run-dashboard.ts';
import {
  isRunning,
  type ProcessState,
  type RunState,
  readState,
  removeState,
  STATE_VERSION,
  writeState,
} from './state.ts';
import { SupervisedProcess } from './supervised-process.ts';
import { bringDown, bringUp, type Unit } from './unit-order.ts';
import { prepareWatch, Watch } from './watch.ts';

export interface RunnerOptions {
  readonly system: SystemFile;
  /** The runner's environment (children inherit it; DATABASE_URL and NATS_URL select real backends). */
  readonly env: Env;
  readonly dataDir: string;
  /** Run these services and what they depend on (plus postgres and the gateway); all when omitted. */
  readonly only?: readonly string[];
  readonly gatewayPort?: number;
  readonly out: Writable;
  /** A terminal: colours and pretty logs. */
  readonly pretty: boolean;
  /** How long a process may take to be ready at start; default 60 s. */
  readonly readyTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL; default 10 s. */
  readonly graceMs?: number;
  readonly backoff?: Backoff;
  /** When a ready process that stops answering is restarted; default every 5 s, 3 failures in a row. */
  readonly health?: HealthPolicy;
  /** Reload a service when its files change (`berth run --watch`). */
  readonly watch?: boolean;
  /** The dashboard's port (`--dashboard-port`); default any free port. */
  readonly dashboardPort?: number;
  /** Run the dashboard (and send the children's traces to it); default true. */
  readonly dashboard?: boolean;
}

export class Runner {
  readonly #options: RunnerOptions;
  readonly #units = new Map<string, Unit>();
  /** Resolves when a control request asked the whole system to stop. */
  readonly shutdownRequested: Promise<void>;
  #requestShutdown!: () => void;
  #plan: Plan | undefined;
  #log: LogOutput | undefined;
  #registry: LocalRegistry | undefined;
  #control: ControlServer | undefined;
  #dashboard: Dashboard | undefined;
  #startedAt = new Date();
  #readyMs: number | undefined;
  #stateWrite: NodeJS.Immediate | undefined;
  #watch: Watch | undefined;
  /** Node's compile cache, filled before the first gateway or service starts (compile-cache.ts). */
  #compiled: Promise<void> = Promise.resolve();

  constructor(options: RunnerOptions) {
    this.#options = options;
    this.shutdownRequested = new Promise((resolve) => {
      this.#requestShutdown = resolve;
    });
  }

  /** The processes, as the state file lists them. */
  get processes(): ProcessState[] {
    return [...this.#units.values()].flatMap((unit) => unit.processes.map((process) => process.state));
  }

  /**
   * Starts the selected units and resolves once all are ready. On failure (or when
   * `signal` aborts) it rejects; call stop() to stop what had started.
   */
  async start(signal: AbortSignal): Promise<void> {
    const { system, dataDir } = this.#options;
    this.#startedAt = new Date();
    const previous = readState(dataDir);
    if (previous && isRunning(previous) && previous.runner.pid !== process.pid) {
      throw new Error(
        `${previous.system} is already running from ${dataDir} (berth run, pid ${previous.runner.pid}` +
          `${previous.gateway ? `, gateway ${previous.gateway}` : ''}); stop it first, or set BERTH_DATA_DIR to run another copy`,
      );
    }
    this.#dashboard = this.#options.dashboard === false ? undefined : await this.#startDashboard();
    const dashboard = this.#dashboard;
    const plan = await planSystem({
      ...this.#options,
      telemetry: dashboard && { endpoint: dashboard.url, token: dashboard.ingestToken },
    });
    this.#plan = plan;
    // The data dir holds the database, the state file's secrets and every log: its user's only.
    makePrivateDir(dataDir);
    if (previous) await stopLeftovers(previous, plan);
    // Only this system's processes register here, and none of them runs now.
    rmSync(plan.registryDir, { recursive: true, force: true });
    await ensurePortFree(plan.gatewayPort);

    const log = new LogOutput({
      out: this.#options.out,
      pretty: this.#options.pretty,
      logsDir: plan.logsDir,
      onLine: dashboard && linesToDashboard(dashboard, plan),
    });
    this.#log = log;
    this.#registry = new LocalRegistry({ dir: plan.registryDir });
    this.#control = await ControlServer.start({
      stop: (names) => this.stopUnits(names),
      start: (names) => this.startUnits(names),
      shutdown: () => this.#requestShutdown(),
    });
    const watched = this.#options.watch ? prepareWatch(dataDir) : undefined;
    for (const unitPlan of plan.units) {
      const processes = unitPlan.processes.map(
        (planned) =>
          new SupervisedProcess(
            {
              ...(watched && unitPlan.kind !== 'postgres' ? watched(planned) : planned),
              service: unitPlan.name,
              kind: unitPlan.kind,
              probe: this.#probeFor(unitPlan),
              health: this.#healthFor(unitPlan),
            },
            {
              log: log.instance(planned.instance),
              note: (message) => log.note(message),
              changed: () => this.#scheduleStateWrite(),
              backoff: this.#options.backoff ?? DEFAULT_BACKOFF,
              health:
                this.#options.health ?? (unitPlan.kind === 'postgres' ? POSTGRES_HEALTH : DEFAULT_HEALTH),
              readyTimeoutMs: this.#options.readyTimeoutMs ?? 60_000,
              graceMs: this.#options.graceMs ?? 10_000,
            },
          ),
      );
      this.#units.set(unitPlan.name, { plan: unitPlan, processes, starting: undefined });
    }
    this.#writeState();
    log.note(
      `starting ${system.system} (${system.environment}): ${plan.selected.join(', ')}; data in ${shownPath(dataDir)}`,
    );
    // Under --watch, with the preload they are spawned with.
    const compiled = compiledProcesses(plan);
    this.#compiled = warmCompileCache(plan, watched ? compiled.map(watched) : compiled);
    await this.#bringUp(plan.selected, signal);
    await this.#untilGatewaySees(signal);
    this.#readyMs = Math.round(performance.now());
    this.#writeState();
    this.#printSummary();
    const note = (message: string) => log.note(message);
    if (this.#options.watch) {
      this.#watch = new Watch({
        ...this.#options,
        units: this.#units.values(),
        note,
        compile: (processes) => warmCompileCache(plan, processes),
      });
    }
  }

  /**
   * Stops these units (a service's every instance, the gateway, postgres) until
   * startUnits; the rest keeps running, as `docker compose stop` leaves dependants
   * up: while postgres is down its services answer errors (the health check does
   * not restart them for it, #healthFor; one that exits is restarted with backoff,
   * as after any crash); while the gateway is down nothing is routed.
   */
  async stopUnits(names: readonly string[]): Promise<void> {
    await bringDown(this.#unitsNamed(names));
    this.#log?.note(`stopped ${names.join(', ')}`);
  }

  /** Starts these units and whatever they depend on that is not running; resolves once ready. */
  async startUnits(names: readonly string[]): Promise<void> {
    this.#unitsNamed(names); // an unknown name refuses the request before anything starts
    const signal = AbortSignal.timeout((this.#options.readyTimeoutMs ?? 60_000) * 2);
    await this.#bringUp(names, signal);
    await this.#untilGatewaySees(signal);
    this.#log?.note(`started ${names.join(', ')}`);
  }

  /** Stops everything in reverse dependency order, then closes the control endpoint and the logs. */
  async stop(): Promise<void> {
    // No `berth start` may begin while everything stops.
    await this.#control?.close();
    await this.#watch?.close();
    await bringDown([...this.#units.values()]);
    clearImmediate(this.#stateWrite);
    await this.#registry?.close();
    await this.#log?.close();
    await this.#dashboard?.close();
    // Only the state file this runner wrote: a refused start must not remove another runner's.
    if (this.#control) removeState(this.#options.dataDir);
  }

  /** For a runner that must exit at once (second Ctrl-C): SIGTERM every child, wait for none. */
  terminateNow(): void {
    for (const unit of this.#units.values()) for (const process of unit.processes) process.terminateNow();
  }

  #startDashboard(): Promise<Dashboard> {
    return startRunDashboard({
      system: this.#options.system,
      env: this.#options.env,
      port: this.#options.dashboardPort,
      processes: () => this.processes,
      stopUnits: (names) => this.stopUnits(names),
      startUnits: (names) => this.startUnits(names),
      gateway: () => (this.#units.has('gateway') ? `http://127.0.0.1:${this.#plan!.gatewayPort}` : undefined),
      plan: () => this.#plan!,
    });
  }

  /** The units a stop or start names; a name that is none is the request's mistake. */
  #unitsNamed(names: readonly string[]): Unit[] {
    return names.map((name) => {
      const unit = this.#units.get(name);
      if (unit) return unit;
      const notOurs = brokerNotStoppable(brokerOf(this.#plan!), name);
      if (notOurs) throw new ControlRequestError(notOurs);
      const units = [...this.#units.values()];
      const named = (kind: Unit['plan']['kind']) =>
        units.filter((u) => u.plan.kind === kind).map((u) => u.plan.name);
      throw new ControlRequestError(
        `unknown service "${name}"; ${this.#options.system.system} has: ${named('service').join(', ')}, ` +
          `and the runner's ${[...named('gateway'), ...named('postgres')].join(', ')}`,
      );
    });
  }

  #probeFor(unit: PlannedUnit): Probe {
    switch (unit.kind) {
      case 'postgres':
        return postgresProbe('127.0.0.1', this.#plan!.pglitePort!);
      case 'gateway':
        return httpProbe(`127.0.0.1:${this.#plan!.gatewayPort}`);
      case 'service':
        return serviceProbe(this.#registry!, unit.name);
    }
  }

  /** Alive, not ready: a service whose database is down must not be restarted for it. */
  #healthFor(unit: PlannedUnit): HealthCheck {
    if (unit.kind !== 'postgres') return answersHealthz;
    const port = this.#plan!.pglitePort!;
    return () => answersPostgres('127.0.0.1', port);
  }

  /** Each unit once its dependencies are ready; the gateway and services once the compile cache is warm. */
  #bringUp(names: readonly string[], signal: AbortSignal): Promise<void> {
    return bringUp(this.#units, names, signal, async (unit) => {
      if (unit.plan.kind !== 'postgres') await this.#compiled;
    });
  }

  /**
   * Until the gateway routes to every ready service instance (its cache lags the
   * registry by a scan); at once while the gateway is stopped (stopUnits).
   */
  async #untilGatewaySees(signal: AbortSignal): Promise<void> {
    const gateway = this.#units.get('gateway')!.processes[0]!;
    if (gateway.status !== 'ready') return;
    const expected = new Map<string, number>();
    for (const unit of this.#units.values()) {
      const ready = unit.processes.filter((process) => process.status === 'ready').length;
      if (unit.plan.kind === 'service' && ready > 0) expected.set(unit.plan.name, ready);
    }
    while (!(await gatewaySees(gateway.state.address!, expected))) {
      signal.throwIfAborted();
      await sleep(50, undefined, { signal }).catch(() => {});
    }
  }

  #scheduleStateWrite(): void {
    // Coalesces the bursts of changes a start or stop makes into one write.
    this.#stateWrite ??= setImmediate(() => {
      this.#stateWrite = undefined;
      this.#writeState();
    });
  }

  #writeState(): void {
    const plan = this.#plan!;
    const state: RunState = {
      version: STATE_VERSION,
      system: this.#options.system.system,
      environment: this.#options.system.environment,
      file: this.#options.system.file,
      dataDir: this.#options.dataDir,
      registryDir: plan.registryDir,
      logsDir: plan.logsDir,
      runner: { pid: process.pid, control: this.#control!.url, token: this.#control!.token },
      dashboard: this.#dashboard && { url: this.#dashboard.url, token: this.#dashboard.token },
      startedAt: this.#startedAt.toISOString(),
      readyMs: this.#readyMs,
      gateway: this.#units.has('gateway') ? `http://127.0.0.1:${plan.gatewayPort}` : undefined,
      database: plan.database,
      databaseUrl: plan.embeddedDatabaseUrl,
      processes: this.processes,
    };
    writeState(state);
  }

  #printSummary(): void {
    const log = this.#log!;
    const plan = this.#plan!;
    const system = this.#options.system;
    log.write(
      formatReadySummary({
        system: system.system,
        environment: system.environment,
        readyMs: this.#readyMs!,
        processes: this.processes,
        gatewayPort: plan.gatewayPort,
        logsDir: plan.logsDir,
        dashboard: this.#dashboard?.pageUrl,
        bold: (text) => log.bold(text),
      }),
    );
  }
}
