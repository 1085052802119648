/**
 * What `berth run --watch` sees change: the files under a few folders, reported in
 * debounced batches (an editor's save, a `git checkout`, a code generator's burst
 * of writes arrive as one batch).
 *
 * One node:fs watch per folder rather than one recursive watch: a recursive watch
 * on Linux walks and watches every folder below, node_modules included (tens of
 * thousands in a system with its own dependencies), and cannot be told to skip any.
 * Here ignored folders are never entered, and folders created later are picked up
 * from their parent's events.
 */
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';

/** Folders whose files are never the source of a service: dependencies, build output, berth's data. */
const IGNORED_FOLDERS = new Set(['node_modules', '.git', '.berth', 'dist']);

/**
 * Editors' temporary and backup files (vim's `.swp`, `~` and `4913` probe, emacs's
 * `.#lock` and `#autosave#`, JetBrains' `___jb_tmp___`): written around a save, never run.
 */
const EDITOR_TEMP = /(^\.#|^#.*#$|~$|\.sw[a-p]$|^4913$|___jb_(tmp|old)___$|\.tmp$)/;

/** Whether a change to `path` (relative to a watched root) is never worth a reload. */
export function isIgnoredPath(path: string): boolean {
  return EDITOR_TEMP.test(basename(path)) || path.split(sep).some((part) => IGNORED_FOLDERS.has(part));
}

export interface FileWatcherOptions {
  /** Folders to watch, with everything below them but ignored folders. */
  readonly roots: readonly string[];
  /** Folders below a root whose changes are not reported (e.g. a data dir set by BERTH_DATA_DIR). */
  readonly skip?: readonly string[];
  /** Quiet time that ends a batch; default 200 ms. */
  readonly debounceMs?: number;
  /** A batch of changed (created, written, removed) files, absolute, sorted. */
  readonly onChange: (files: readonly string[]) => void;
}

export class FileWatcher {
  readonly #options: FileWatcherOptions;
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: FileWatcherOptions) {
    this.#options = options;
    for (const root of options.roots) this.#watchTree(root, root);
  }

  /** How many folders are watched (for the start line). */
  get folders(): number {
    return this.#watchers.size;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  #skipped(root: string, path: string): boolean {
    return (
      isIgnoredPath(relative(root, path)) ||
      (this.#options.skip ?? []).some((dir) => path === dir || path.startsWith(dir + sep))
    );
  }

  #watchTree(root: string, dir: string): void {
    if (this.#closed || this.#watchers.has(dir) || this.#skipped(root, dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => {
        if (name) this.#changed(root, join(dir, name.toString()));
      });
    } catch {
      return; // gone already, or not a folder
    }
    // A watched folder that is removed ends its watcher with an error.
    watcher.on('error', () => {
      watcher.close();
      this.#watchers.delete(dir);
    });
    this.#watchers.set(dir, watcher);
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name);
    } catch {
      entries = [];
    }
    for (const name of entries) this.#watchTree(root, join(dir, name));
  }

  #changed(root: string, path: string): void {
    if (this.#closed || this.#skipped(root, path)) return;
    if (isDirectory(path)) {
      // A new folder: watch it, and count what is already in it (a `git checkout`, a `mv`).
      const known = this.#watchers.has(path);
      this.#watchTree(root, path);
      if (!known) {
        for (const file of filesBelow(path)) if (!this.#skipped(root, file)) this.#pending.add(file);
      }
    } else {
      this.#pending.add(path);
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#flush(), this.#options.debounceMs ?? 200);
  }

  #flush(): void {
    const files = [...this.#pending].sort();
    this.#pending.clear();
    if (files.length > 0 && !this.#closed) this.#options.onChange(files);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function filesBelow(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
  } catch {
    return [];
  }
}
