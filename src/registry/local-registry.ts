/**
 * The registry shared by every process of this machine, with no server to install:
 * one JSON file per instance in a shared folder. A process that dies without
 * deregistering (SIGKILL, crash) is noticed because its pid is gone; the scan that
 * notices removes the file, so every watcher forgets it within one scan interval.
 * Deaths are checked on every tick with no file I/O (a signal-0 kill per known
 * pid): under load a scan's reads can take longer than the interval, and a dead
 * instance must not wait for them.
 *
 * An instance file is written once (register renames it into place) and only
 * ever removed, so a scan reads only the files it has not seen: re-reading every
 * file each tick cost every watching process 7% of a core at 200 instances
 * (bench/discovery), growing linearly, plus the garbage V8 grew its heap for.
 *
 * Only what this user owns counts (local-trust.ts): the folder must be the user's
 * own 0700 folder (else every call is refused, naming it), instance files are
 * written 0600 and read only when they are the user's regular files, and an
 * instance lives only while its pid is a live process of the user's.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkPrivateDir,
  ensurePrivateDir,
  isProcessAlive,
  readOwnedFile,
  userRuntimeDir,
  writePrivateFile,
} from './local-trust.ts';
import type { Registry, RegistryEvent, ServiceInstance, WatchOptions } from './registry.ts';
import { WatchHub } from './watch-hub.ts';

export interface LocalRegistryOptions {
  /**
   * Shared folder; every process that should see each other uses the same one.
   * Default `<user runtime dir>/registry` (defaultLocalRegistryDir). Created 0700;
   * one that exists must be the user's own and reachable by nobody else.
   */
  readonly dir?: string;
  /** How often watchers rescan the folder and check pids; bounds how late a death is seen. */
  readonly scanIntervalMs?: number;
}

interface Entry {
  readonly pid: number;
  readonly instance: ServiceInstance;
}

/** `$XDG_RUNTIME_DIR/berth/registry`, else `~/.cache/berth/run/registry` (see userRuntimeDir). */
export function defaultLocalRegistryDir(env?: Readonly<Record<string, string | undefined>>): string {
  return join(userRuntimeDir(env), 'registry');
}

/** An instance file's content, if it is one: anything else in the folder is ignored. */
function parseEntry(text: string): Entry | undefined {
  try {
    const entry = JSON.parse(text) as Partial<Entry> | null;
    const instance = entry?.instance;
    if (typeof entry?.pid !== 'number' || typeof instance !== 'object' || instance === null) return undefined;
    return typeof instance.id === 'string' && typeof instance.name === 'string'
      ? (entry as Entry)
      : undefined;
  } catch {
    return undefined; // half-written by a process that died mid-write
  }
}

export class LocalRegistry implements Registry {
  readonly dir: string;
  readonly #scanIntervalMs: number;
  readonly #hub = new WatchHub();
  /** What watchers were last told, by instance id. */
  #known = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;
  #watchers = 0;
  #scanning: Promise<ServiceInstance[]> | undefined;
  /** Parsed instance files by file name: read once, dropped when the file goes. */
  #parsed = new Map<string, Entry>();

  constructor(options: LocalRegistryOptions = {}) {
    this.dir = options.dir ?? defaultLocalRegistryDir();
    this.#scanIntervalMs = options.scanIntervalMs ?? 250;
  }

  async register(instance: ServiceInstance): Promise<void> {
    ensurePrivateDir(this.dir);
    const entry: Entry = { pid: process.pid, instance };
    await writePrivateFile(this.#file(instance.id), JSON.stringify(entry));
    if (this.#timer) await this.#scan();
  }

  async deregister(id: string): Promise<void> {
    await rm(this.#file(id), { force: true });
    if (this.#timer) await this.#scan();
  }

  async list(name?: string): Promise<ServiceInstance[]> {
    const all = await this.#scan();
    return all.filter((instance) => name === undefined || instance.name === name);
  }

  watch(options: WatchOptions = {}): AsyncIterable<RegistryEvent> {
    this.#watchers += 1;
    if (!this.#timer) {
      this.#timer = setInterval(() => {
        this.#forgetDead();
        // A refused folder already failed the watch's first scan, which the watcher saw.
        this.#scan().catch(() => {});
      }, this.#scanIntervalMs);
      this.#timer.unref();
    }
    const events = this.#hub.watch(options, () => this.#scan());
    const release = () => {
      this.#watchers -= 1;
      if (this.#watchers === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
    return (async function* () {
      try {
        yield* events;
      } finally {
        release();
      }
    })();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#hub.endAll();
  }

  #file(id: string): string {
    return join(this.dir, `${encodeURIComponent(id)}.json`);
  }

  #forgetDead(): void {
    for (const [id, entry] of this.#known) {
      if (isProcessAlive(entry.pid)) continue;
      this.#known.delete(id);
      this.#hub.emit({ type: 'remove', instance: entry.instance });
    }
  }

  /** One scan at a time; concurrent callers share it. */
  #scan(): Promise<ServiceInstance[]> {
    this.#scanning ??= this.#readAll().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  async #readAll(): Promise<ServiceInstance[]> {
    let names: string[] = [];
    // Missing: nothing registered yet (register creates it).
    if (checkPrivateDir(this.dir)) {
      try {
        names = (await readdir(this.dir)).filter((name) => name.endsWith('.json'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    const live = new Map<string, Entry>();
    const parsed = new Map<string, Entry>();
    await Promise.all(
      names.map(async (name) => {
        const file = join(this.dir, name);
        let entry = this.#parsed.get(name);
        if (!entry) {
          // Another user's file or a symlink is not ours to trust, nor to remove.
          const text = await readOwnedFile(file);
          entry = text === undefined ? undefined : parseEntry(text);
          if (!entry) return;
        }
        if (isProcessAlive(entry.pid)) {
          live.set(entry.instance.id, entry);
          parsed.set(name, entry);
        } else await rm(file, { force: true });
      }),
    );
    this.#parsed = parsed;
    // Checked again now that the reads are done: a process that died meanwhile may
    // already have been forgotten by #forgetDead, and must not come back.
    for (const [id, entry] of live) if (!isProcessAlive(entry.pid)) live.delete(id);
    for (const [id, entry] of this.#known) {
      if (!live.has(id)) this.#hub.emit({ type: 'remove', instance: entry.instance });
    }
    for (const [id, entry] of live) {
      if (!this.#known.has(id)) this.#hub.emit({ type: 'add', instance: entry.instance });
    }
    this.#known = live;
    return [...live.values()].map((entry) => entry.instance);
  }
}
