/**
 * Provenance: which source (file or environment variable) supplied each value of
 * a merged configuration, so a validation error names the file the bad value came
 * from rather than the first file read. Sources are deep-merged in order: mappings
 * merge key by key, anything else (scalars, lists) replaces what was there.
 */

export type Path = readonly (string | number)[];

/** Where values came from. `locate` finds a key's position inside a file, when it can. */
export interface Source {
  readonly label: string;
  locate?(path: Path): { line: number; column: number } | undefined;
}

export type Mapping = Record<string, unknown>;

export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

const keyOf = (path: Path): string => JSON.stringify(path);

export class Provenance {
  /** Leaf (non-mapping or empty mapping) path → source that set it last. */
  readonly #leaves = new Map<string, { path: Path; source: Source }>();

  /** Record that `source` set the value at `path`, dropping what it replaced. */
  set(path: Path, source: Source): void {
    for (const key of this.#leaves.keys()) if (isBelow(key, path)) this.#leaves.delete(key);
    // A leaf above this path (a scalar now replaced by a mapping) no longer applies.
    for (let i = path.length - 1; i >= 0; i--) this.#leaves.delete(keyOf(path.slice(0, i)));
    this.#leaves.set(keyOf(path), { path, source });
  }

  /**
   * Sources for the value at `path`: the leaf at or above it, else every source
   * that contributed below it (a mapping built from several files), else none.
   */
  sourcesOf(path: Path): Source[] {
    for (let i = path.length; i >= 0; i--) {
      const hit = this.#leaves.get(keyOf(path.slice(0, i)));
      if (hit) return [hit.source];
    }
    const found = new Set<Source>();
    for (const [key, { source }] of this.#leaves) if (isBelow(key, path)) found.add(source);
    return [...found];
  }
}

/** Whether the leaf stored under `key` lies strictly below `path`. */
function isBelow(key: string, path: Path): boolean {
  if (path.length === 0) return key !== '[]';
  const prefix = keyOf(path).slice(0, -1);
  return key.startsWith(prefix) && key[prefix.length] === ',';
}

/**
 * Deep-merge `patch` into `target` (mutated) and record `source` for every leaf.
 * Returns the merged value for `path` (a non-mapping patch simply replaces).
 */
export function mergeInto(
  target: unknown,
  patch: unknown,
  source: Source,
  provenance: Provenance,
  path: Path = [],
): unknown {
  if (isMapping(patch) && isMapping(target)) {
    for (const [key, value] of Object.entries(patch)) {
      setOwn(
        target,
        key,
        mergeInto(Object.hasOwn(target, key) ? target[key] : undefined, value, source, provenance, [
          ...path,
          key,
        ]),
      );
    }
    return target;
  }
  provenance.set(path, source);
  if (!isMapping(patch)) return patch;
  // A mapping replaces a scalar or list: copy it so later merges never mutate the source data.
  const out: Mapping = {};
  for (const [key, value] of Object.entries(patch)) {
    setOwn(out, key, mergeInto(undefined, value, source, provenance, [...path, key]));
  }
  return out;
}

/** Assign an own property, even for a key such as `__proto__` (which then fails strict validation). */
export function setOwn(target: Mapping, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
