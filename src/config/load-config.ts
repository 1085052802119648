/**
 * Per-service configuration: `<dir>/base.yaml`, then `<dir>/<env>.yaml` deep-merged
 * over it, then environment variables (`<prefix>DATABASE__URL` → `database.url`),
 * validated once with a zod schema. Both files are optional; a file that exists
 * must be valid YAML with a mapping at the top. Mappings merge key by key; lists
 * and scalars from a later source replace earlier ones.
 *
 * Everything wrong is reported at once in a ConfigError, one line per problem,
 * naming the file or variable the bad value came from, the key, and what was
 * expected vs found:
 *
 *   configs/dev.yaml: database.port: expected number, got string "abc" (line 3)
 *   environment variable VESSEL_POOL__MAX: pool.max: expected number, got string "ten"
 *   configs: database.url: missing required key, expected string; set it in configs/base.yaml, ...
 *
 * Use strict objects (`z.strictObject`) so a misspelt key is an error naming the
 * file it is in. The library never reads process.env or process.cwd itself: the
 * caller passes them.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { envSourceLabel, envVariableFor, settingsFromEnv } from './env-vars.ts';
import {
  isMapping,
  type Mapping,
  mergeInto,
  type Path,
  Provenance,
  type Source,
  setOwn,
} from './provenance.ts';
import { validate } from './validate.ts';
import { readYamlFile } from './yaml-file.ts';

export interface LoadConfigOptions<S extends z.core.$ZodType> {
  readonly schema: S;
  /** Folder holding `base.yaml` and `<env>.yaml`; relative to `cwd`. */
  readonly dir: string;
  /** Environment name, selects `<env>.yaml`. Default `dev`. */
  readonly env?: string;
  /** The process environment, passed in by the caller. Default: none. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** Prefix of the variables that configure this service, e.g. `VESSEL_`. Default `''` (see env-vars.ts). */
  readonly prefix?: string;
  /** Folder that relative paths start from and that messages show paths relative to. */
  readonly cwd?: string;
}

export const DEFAULT_CONFIG_ENV = 'dev';

export { ConfigError };

export function loadConfig<S extends z.core.$ZodType>(options: LoadConfigOptions<S>): z.output<S> {
  const env = options.env ?? DEFAULT_CONFIG_ENV;
  const prefix = options.prefix ?? '';
  if (!/^[\w.-]+$/.test(env)) {
    throw new ConfigError([
      {
        source: 'env',
        key: '',
        message: `expected an environment name (letters, digits, _ . -), got "${env}"`,
      },
    ]);
  }
  const dir = options.cwd === undefined ? options.dir : resolve(options.cwd, options.dir);
  const label = (file: string) => displayPath(file, options.cwd);
  const files = [join(dir, 'base.yaml'), join(dir, `${env}.yaml`)];

  const provenance = new Provenance();
  const problems: ConfigProblem[] = [];
  let merged: Mapping = {};
  for (const file of files) {
    let loaded: ReturnType<typeof readYamlFile>;
    try {
      loaded = readYamlFile(file, label(file), true);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      continue;
    }
    if (loaded) merged = mergeInto(merged, loaded.data, loaded.source, provenance) as Mapping;
  }
  // Files that cannot be read make every later message unreliable: report them alone.
  if (problems.length > 0) throw new ConfigError(problems);

  const fromEnv = settingsFromEnv(options.environment ?? {}, prefix, options.schema, merged);
  problems.push(...fromEnv.problems);
  for (const setting of fromEnv.settings) {
    assignAt(merged, setting.path, setting.value, { label: envSourceLabel(setting.variable) }, provenance);
  }

  const missing = (path: Path) => ({
    source: label(dir),
    hint: `set it in ${files.map(label).join(' or ')}, or with ${envVariableFor(prefix, path)}`,
  });
  let config: z.output<S>;
  try {
    config = validate(options.schema, merged, { provenance, missing });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError([...error.problems, ...problems]);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Set the value at `path` inside `root`, creating mappings or lists on the way; a mapping value merges. */
function assignAt(root: Mapping, path: Path, value: unknown, source: Source, provenance: Provenance): void {
  let container: Mapping | unknown[] = root;
  for (let i = 0; i < path.length - 1; i++) {
    const segment = path[i]!;
    const wantList = typeof path[i + 1] === 'number';
    let next = get(container, segment);
    if (wantList ? !Array.isArray(next) : !isMapping(next)) {
      next = wantList ? [] : {};
      put(container, segment, next);
    }
    container = next as Mapping | unknown[];
  }
  const last = path[path.length - 1]!;
  put(container, last, mergeInto(get(container, last), value, source, provenance, path));
}

function get(container: Mapping | unknown[], key: string | number): unknown {
  if (Array.isArray(container)) return typeof key === 'number' ? container[key] : undefined;
  return Object.hasOwn(container, key) ? container[key as string] : undefined;
}

function put(container: Mapping | unknown[], key: string | number, value: unknown): void {
  if (Array.isArray(container) && typeof key === 'number') container[key] = value;
  else setOwn(container as Mapping, String(key), value);
}

/** `file` relative to `cwd` when inside it, else as it is. */
export function displayPath(file: string, cwd: string | undefined): string {
  if (cwd === undefined) return file;
  const rel = relative(cwd, file);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}
