/**
 * `berth run --watch`: a saved file reloads the services it belongs to, without a
 * failed request. Reference: src/runner/README.md, "Watch mode".
 *
 *   change ─► debounce (watch-files.ts) ─► .proto? `berth generate` first
 *          ─► which services: a file in a service's folder, or one its processes
 *             loaded as a module (watch-imports.ts reports each process's list)
 *          ─► per service, one replica at a time: a new process beside the old one
 *             ─► ready and registered ─► the gateway routes to it ─► the old one
 *             gets SIGTERM and drains (SupervisedProcess.replace)
 *          ─► `vessel: reloaded in 1.2 s (vessel/handlers.ts)`, or, when the new
 *             process fails to start, the old one keeps serving and one line says so
 *
 * Reloads of one service run one after another (changes that arrive meanwhile make
 * one more reload); different services reload side by side.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SystemFile } from '../config/system-file.ts';
import { generateCode } from '../scaffold/codegen.ts';
import { formatSeconds } from './log-output.ts';
import type { Env, PlannedProcess, PlannedUnit } from './plan.ts';
import { makePrivateDir } from './private-files.ts';
import { gatewaySees } from './readiness.ts';
import type { ProcessSpec, SupervisedProcess } from './supervised-process.ts';
import { FileWatcher } from './watch-files.ts';

const IMPORTS_PRELOAD = resolve(import.meta.dirname, 'watch-imports.ts');
/** berth's own source: watched too when it is not an installed package (developing berth). */
const BERTH_SOURCE = resolve(import.meta.dirname, '..');

/** Files a service may load as modules; without a module list, a change to one of these reloads it. */
const MODULE_FILE = /\.([cm]?[jt]sx?|json)$/;
/** In a service's folder, yet not part of what runs: its docs and tests. */
const NOT_RUN = /\.(md|txt)$|\.(test|spec)\.[cm]?[jt]sx?$/;

function importsDir(dataDir: string): string {
  return join(dataDir, 'watch-imports');
}

/**
 * For a run with --watch, before any process starts: an empty folder for the module
 * lists, and what turns a planned process into one that reports its list.
 */
export function prepareWatch(dataDir: string): (planned: PlannedProcess) => PlannedProcess {
  const dir = importsDir(dataDir);
  rmSync(dir, { recursive: true, force: true });
  makePrivateDir(dir);
  return (planned) => ({
    ...planned,
    args: ['--import', IMPORTS_PRELOAD, ...planned.args],
    env: { ...planned.env, BERTH_WATCH_IMPORTS_DIR: dir },
  });
}

export interface WatchOptions {
  readonly system: SystemFile;
  readonly dataDir: string;
  /** The environment `berth generate` runs in. */
  readonly env: Env;
  /** The runner's units: their processes are replaced in place, so the state file follows. */
  readonly units: Iterable<{ readonly plan: PlannedUnit; readonly processes: readonly SupervisedProcess[] }>;
  readonly note: (message: string) => void;
  /**
   * Fills Node's compile cache with what these processes load (compile-cache.ts), so
   * their new instances neither compile the changed files again nor load Node's
   * TypeScript stripper for them (~14 MB each, kept for the process's life).
   */
  readonly compile: (processes: readonly ProcessSpec[]) => Promise<void>;
}

interface Queued {
  readonly files: Set<string>;
}

export class Watch {
  readonly #options: WatchOptions;
  /** Each service's processes, by name. */
  readonly #services = new Map<string, readonly SupervisedProcess[]>();
  readonly #gateway: SupervisedProcess | undefined;
  readonly #files: FileWatcher;
  readonly #closing = new AbortController();
  readonly #queued = new Map<string, Queued>();
  readonly #running = new Set<Promise<void>>();
  /** Services whose last reload failed: what the failed version would have loaded is unknown. */
  readonly #failed = new Set<string>();

  constructor(options: WatchOptions) {
    this.#options = options;
    const { system } = options;
    for (const { plan, processes } of options.units) {
      if (plan.kind === 'service') this.#services.set(plan.name, processes);
      if (plan.kind === 'gateway') this.#gateway = processes[0];
    }
    const roots = [system.root];
    if (!BERTH_SOURCE.includes(`${sep}node_modules${sep}`) && !within(system.root, BERTH_SOURCE)) {
      roots.push(BERTH_SOURCE);
    }
    this.#files = new FileWatcher({
      roots,
      // Written by the run itself; and the static folder is served fresh without a reload.
      skip: [options.dataDir, ...(system.gateway.static ? [system.gateway.static] : [])],
      onChange: (files) => {
        try {
          this.#changed(files);
        } catch (error) {
          options.note(`watch: ${(error as Error).message}`); // and the next change is handled all the same
        }
      },
    });
    options.note(`watching ${roots.map((root) => this.#shown(root)).join(' and ')} for changes`);
  }

  /** Stops watching; a reload under way is cancelled (its new process stopped, the old one kept). */
  async close(): Promise<void> {
    this.#files.close();
    this.#closing.abort();
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  /** Keeps `work` for close() to wait on; an unexpected error is told, and the watch goes on. */
  #track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) => this.#options.note(`watch: ${(error as Error).message}`))
      .finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  /** One batch; code generation (synchronous) is done before anything is scheduled. */
  #changed(files: readonly string[]): void {
    const { system, note } = this.#options;
    if (this.#closing.signal.aborted) return;
    if (files.includes(system.file)) {
      note(`${this.#shown(system.file)} changed: stop berth run and start it again to apply it`);
    }
    const protos = files.filter((file) => file.endsWith('.proto'));
    if (protos.length > 0) this.#generate(protos);
    const gatewayImports = this.#gateway && this.#imports([this.#gateway]);
    const gatewayFiles = files.filter((file) => gatewayImports?.has(file));
    if (gatewayFiles.length > 0) {
      note(
        `gateway: not reloaded (${this.#list(gatewayFiles)} changed); it keeps its port, so stop berth run and start it again to run the change`,
      );
    }
    for (const [service, processes] of this.#services) {
      const affected = files.filter((file) => this.#affects(service, processes, file));
      if (affected.length > 0) this.#schedule(service, affected);
    }
  }

  /**
   * `berth generate` (src/scaffold/codegen.ts): proto/ into gen/. The generated files
   * then change like any other and reload the services that import them. It blocks
   * the runner for the second buf takes; the children's output waits in their pipes.
   */
  #generate(protos: readonly string[]): void {
    const { system, env, note } = this.#options;
    note(`${this.#list(protos)} changed: berth generate`);
    try {
      generateCode(system.root, env);
    } catch (error) {
      note(`${(error as Error).message}\nservices keep running the code generated before`);
    }
  }

  /** Whether a change to `file` concerns `service`. */
  #affects(service: string, processes: readonly SupervisedProcess[], file: string): boolean {
    const { system } = this.#options;
    if (file === system.file || file.endsWith('.proto')) return false;
    if (within(system.services[service]!.dir, file) && !NOT_RUN.test(file)) return true;
    const imports = this.#failed.has(service) ? undefined : this.#imports(processes);
    return imports === undefined ? MODULE_FILE.test(file) : imports.has(file);
  }

  /** Every file the running processes loaded; undefined when a process's list is missing. */
  #imports(processes: readonly SupervisedProcess[]): Set<string> | undefined {
    const files = new Set<string>();
    for (const process of processes) {
      const pid = process.state.pid;
      if (pid === undefined || process.status === 'stopped') continue;
      const list = join(importsDir(this.#options.dataDir), `${pid}.json`);
      if (!existsSync(list)) return undefined;
      try {
        for (const file of JSON.parse(readFileSync(list, 'utf8')) as string[]) files.add(file);
      } catch {
        return undefined;
      }
    }
    return files;
  }

  /** Reloads `service` for these files now, or once the reload under way has finished. */
  #schedule(service: string, files: readonly string[]): void {
    const queued = this.#queued.get(service);
    if (queued) {
      for (const file of files) queued.files.add(file);
      return;
    }
    const entry: Queued = { files: new Set(files) };
    this.#queued.set(service, entry);
    this.#track(
      (async () => {
        try {
          while (entry.files.size > 0 && !this.#closing.signal.aborted) {
            const batch = [...entry.files].sort();
            entry.files.clear();
            await this.#reload(service, batch);
          }
        } finally {
          this.#queued.delete(service);
        }
      })(),
    );
  }

  /** Replaces each replica in turn; the first that fails to start ends it (the rest keep serving). */
  async #reload(service: string, files: readonly string[]): Promise<void> {
    const { note } = this.#options;
    const started = performance.now();
    const processes = this.#services.get(service)!;
    await this.#options.compile(processes.map((process) => process.spec));
    let replaced = 0;
    for (const process of processes) {
      try {
        const outcome = await process.replace(
          (_address, signal) => this.#untilGatewayRoutes(service, processes, signal),
          this.#closing.signal,
        );
        if (outcome === 'replaced') replaced += 1;
        if (outcome === 'restarting') {
          note(`${process.spec.instance} restarts now, not after its backoff: ${this.#list(files)} changed`);
        }
      } catch (error) {
        // Cancelled by a stop (berth stop, Ctrl-C): nothing to report.
        if (this.#closing.signal.aborted) return;
        this.#failed.add(service);
        const old =
          process.status === 'ready'
            ? `${process.spec.instance} keeps serving the previous version until the next save`
            : `${process.spec.instance} is ${process.status} too; the next save tries again`;
        note(
          `${service}: not reloaded after ${this.#list(files)} changed: ${(error as Error).message} ` +
            `(its output is above); ${old}`,
        );
        return;
      }
    }
    this.#failed.delete(service);
    if (replaced > 0) {
      note(`${service}: reloaded in ${formatSeconds(performance.now() - started)} (${this.#list(files)})`);
    }
  }

  /** Until the gateway's registry cache holds the new instance beside the ready ones. */
  async #untilGatewayRoutes(
    service: string,
    processes: readonly SupervisedProcess[],
    signal: AbortSignal,
  ): Promise<void> {
    const address = this.#gateway?.state.address;
    if (address === undefined) return; // no gateway to wait for
    // The ready ones, counted each time: one may die meanwhile.
    const expected = () => {
      const ready = processes.filter((process) => process.status === 'ready').length;
      return new Map([[service, ready + 1]]);
    };
    while (!(await gatewaySees(address, expected()))) {
      signal.throwIfAborted();
      await sleep(50, undefined, { signal });
    }
  }

  #list(files: readonly string[]): string {
    const shown = files.slice(0, 3).map((file) => this.#shown(file));
    return files.length > 3 ? `${shown.join(', ')} and ${files.length - 3} more` : shown.join(', ');
  }

  /** Relative to the system's folder inside it (`vessel/handlers.ts`), else to the current folder. */
  #shown(path: string): string {
    const root = this.#options.system.root;
    if (within(root, path) && path !== root) return relative(root, path);
    const fromCwd = relative(process.cwd(), path);
    return fromCwd === '' ? '.' : fromCwd.startsWith('..') ? path : fromCwd;
  }
}

function within(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}
