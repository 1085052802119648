/**
 * Where a system run by `berth run` keeps its files, and how other commands find
 * a running system (`berth logs`, `list`, `call`, `health`, `stop`, `start`).
 *
 *   <data dir>/                  BERTH_DATA_DIR, else `<system folder>/.berth/data`; 0700
 *     state.json                 the running system: pids, addresses, log files, control URL
 *                                and token, the embedded database's URL; 0600
 *     registry/                  the local registry of this system only (BERTH_REGISTRY_DIR)
 *     logs/<instance>.log        each process's output (JSON lines), truncated per run
 *     pglite/                    the embedded Postgres
 *
 * A run also leaves a pointer in `<user runtime dir>/running/` (local-trust.ts:
 * `$XDG_RUNTIME_DIR/berth`, else `~/.cache/berth/run`; 0700, the user's own), so a
 * command started in another folder (e.g. the repository root after `npm start`)
 * finds the one system that is running. Only pointers the user owns are followed.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  checkPrivateDir,
  ensurePrivateDir,
  isProcessAlive,
  readOwnedFileSync,
  userRuntimeDir,
  writePrivateFileSync,
} from '../registry/local-trust.ts';

export const STATE_VERSION = 1;

export type ProcessKind = 'postgres' | 'gateway' | 'service';
export type ProcessStatus = 'starting' | 'ready' | 'restarting' | 'stopping' | 'stopped';

export interface ProcessState {
  /** `vessel-1`, `gateway`, `postgres`. */
  readonly instance: string;
  /** `vessel`, `gateway`, `postgres`. */
  readonly service: string;
  readonly kind: ProcessKind;
  readonly pid: number | undefined;
  /** `host:port` once ready. */
  readonly address: string | undefined;
  readonly status: ProcessStatus;
  /** When the current process was spawned (ISO time). */
  readonly startedAt: string | undefined;
  /** When it was last found ready (ISO time). */
  readonly readyAt: string | undefined;
  /** Restarts after a crash during this run. */
  readonly restarts: number;
  /** Times `berth run --watch` replaced it with a new process after a change. */
  readonly reloads: number;
  readonly logFile: string;
}

export interface RunState {
  readonly version: typeof STATE_VERSION;
  readonly system: string;
  readonly environment: string;
  /** Absolute path of berth.yaml. */
  readonly file: string;
  readonly dataDir: string;
  readonly registryDir: string;
  readonly logsDir: string;
  readonly runner: {
    readonly pid: number;
    /** Control endpoint of the runner (stop/start a service), on 127.0.0.1. */
    readonly control: string;
    /** Bearer token for the control endpoint; the file is readable by its owner only. */
    readonly token: string;
  };
  /** The dashboard (`berth traces` reads it): its URL and the page token its API requires as `Authorization: Bearer`. Absent: none runs. */
  readonly dashboard?: {
    readonly url: string;
    readonly token: string;
  };
  readonly startedAt: string;
  /** Milliseconds from the runner's process start to every process ready; unset while starting. */
  readonly readyMs: number | undefined;
  readonly gateway: string | undefined;
  /** `embedded` (PGlite run by berth), `external` (DATABASE_URL / resources.postgres.url) or `none`. */
  readonly database: 'embedded' | 'external' | 'none';
  /**
   * The embedded Postgres's URL, with this run's password (what its services get as
   * DATABASE_URL; for psql and the like). Only here and in their environment: never logged.
   */
  readonly databaseUrl: string | undefined;
  readonly processes: readonly ProcessState[];
}

/** The data dir of a system: BERTH_DATA_DIR, else `.berth/data` beside its berth.yaml. */
export function dataDirFor(systemRoot: string, env: Readonly<Record<string, string | undefined>>): string {
  return env.BERTH_DATA_DIR ? resolve(env.BERTH_DATA_DIR) : join(systemRoot, '.berth', 'data');
}

export function statePath(dataDir: string): string {
  return join(dataDir, 'state.json');
}

/** The state in `dataDir`, if a file is there (its runner may have died: see `isRunning`). */
export function readState(dataDir: string): RunState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const state = JSON.parse(text) as RunState;
    return state.version === STATE_VERSION ? state : undefined;
  } catch {
    return undefined; // written by a runner that died mid-write: as good as none
  }
}

export function isRunning(state: RunState): boolean {
  return isProcessAlive(state.runner.pid);
}

/** Atomic replace, owner-only (it holds the control token). */
export function writeState(state: RunState): void {
  const file = statePath(state.dataDir);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writePrivateFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
  writePointer(state.dataDir);
}

export function removeState(dataDir: string): void {
  rmSync(statePath(dataDir), { force: true });
  rmSync(pointerPath(dataDir), { force: true });
}

type Env = Readonly<Record<string, string | undefined>>;

/** The pointers' folder: the runner writes there by its own environment, commands read by theirs. */
function runningDir(env: Env = process.env): string {
  return join(userRuntimeDir(env), 'running');
}

function pointerPath(dataDir: string): string {
  const key = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
  return join(runningDir(), `${key}.json`);
}

function writePointer(dataDir: string): void {
  ensurePrivateDir(runningDir());
  writePrivateFileSync(pointerPath(dataDir), JSON.stringify({ dataDir: resolve(dataDir) }));
}

/**
 * Every system whose runner is alive, found through the pointers; stale pointers are
 * removed. A pointers' folder that is not the user's own private one is an Error.
 */
export function listRunningSystems(env?: Env): RunState[] {
  const dir = runningDir(env);
  if (!checkPrivateDir(dir)) return [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const running: RunState[] = [];
  for (const name of names) {
    const file = join(dir, name);
    // Another user's file or a symlink: not a pointer of ours, and not ours to remove.
    const text = readOwnedFileSync(file);
    if (text === undefined) continue;
    let dataDir: string;
    try {
      dataDir = (JSON.parse(text) as { dataDir: string }).dataDir;
    } catch {
      continue;
    }
    if (typeof dataDir !== 'string') continue;
    const state = readState(dataDir);
    if (state && isRunning(state)) running.push(state);
    else rmSync(file, { force: true });
  }
  return running;
}

/** The nearest folder at or above `cwd` holding a berth.yaml. */
function systemRootAbove(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'berth.yaml'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

export interface FindOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * The running system a command in `cwd` means, or undefined when none runs:
 *  1. BERTH_DATA_DIR's state, when that variable is set;
 *  2. the state of the system whose berth.yaml is at or above `cwd`;
 *  3. the only system running on this machine (several: an Error naming them).
 */
export function findRunningSystem(options: FindOptions): RunState | undefined {
  if (options.env.BERTH_DATA_DIR) {
    const state = readState(resolve(options.cwd, options.env.BERTH_DATA_DIR));
    return state && isRunning(state) ? state : undefined;
  }
  const root = systemRootAbove(options.cwd);
  if (root !== undefined) {
    const state = readState(dataDirFor(root, {}));
    if (state && isRunning(state)) return state;
  }
  const running = listRunningSystems(options.env);
  if (running.length > 1) {
    const which = running.map((state) => `  ${state.system} (data dir ${state.dataDir})`).join('\n');
    throw new Error(
      `several systems are running:\n${which}\nset BERTH_DATA_DIR to the data dir of the one you mean`,
    );
  }
  return running[0];
}

/**
 * The data dir a command in `cwd` means, whether or not its system runs now: the
 * running system's (findRunningSystem), else BERTH_DATA_DIR, else that of the
 * berth.yaml at or above `cwd`.
 */
export function findDataDir(options: FindOptions): string | undefined {
  const running = findRunningSystem(options);
  if (running) return running.dataDir;
  if (options.env.BERTH_DATA_DIR) return resolve(options.cwd, options.env.BERTH_DATA_DIR);
  const root = systemRootAbove(options.cwd);
  return root === undefined ? undefined : dataDirFor(root, {});
}

/**
 * The local registry folder a CLI command should use: BERTH_REGISTRY_DIR when set,
 * else the registry of the running system (see findRunningSystem), else undefined
 * (the caller falls back to LocalRegistry's default folder).
 */
export function localRegistryDir(options: FindOptions): string | undefined {
  return options.env.BERTH_REGISTRY_DIR || findRunningSystem(options)?.registryDir;
}
