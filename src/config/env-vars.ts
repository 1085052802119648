/**
 * Environment variables as configuration: `PREFIX_DATABASE__URL` sets `database.url`.
 * A double underscore nests; single underscores stay within a key and match it
 * ignoring case, `_` and `-` (`MAX_WEIGHT` → `maxWeight` or `max_weight`, whichever
 * the schema declares; camelCase when the schema does not say). Values are strings
 * and are turned into what the schema expects at that key: numbers, booleans,
 * `null`, lists (JSON, or comma-separated) and mappings (JSON).
 *
 * With a prefix, every variable under it must name a config key: a typo is an
 * error, not a silently ignored setting. With an empty prefix the whole process
 * environment is consulted, so variables whose first segment matches no key are
 * skipped.
 */
import { z } from 'zod';
import { type ConfigProblem, formatKeyPath } from './config-error.ts';
import { isMapping, type Path } from './provenance.ts';
import { childSchema, elementSchema, kindOf, objectKeys, unionOptions } from './schema-shape.ts';

export interface EnvSetting {
  /** The variable, e.g. `VESSEL_DATABASE__URL`. */
  readonly variable: string;
  readonly path: Path;
  readonly value: unknown;
}

export function envSourceLabel(variable: string): string {
  return `environment variable ${variable}`;
}

/** The variable that would set `path`: `VESSEL_` + `DATABASE__MAX_WEIGHT`. */
export function envVariableFor(prefix: string, path: Path): string {
  return (
    prefix +
    path
      .map((segment) =>
        String(segment)
          .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
          .replace(/-/g, '_')
          .toUpperCase(),
      )
      .join('__')
  );
}

/**
 * The settings carried by `environment` for `schema`, sorted by variable name.
 * `current` is the configuration merged from files so far (to match keys of
 * open-ended mappings such as records).
 */
export function settingsFromEnv(
  environment: Readonly<Record<string, string | undefined>>,
  prefix: string,
  schema: z.core.$ZodType,
  current: unknown,
): { settings: EnvSetting[]; problems: ConfigProblem[] } {
  const settings: EnvSetting[] = [];
  const problems: ConfigProblem[] = [];
  const names = Object.keys(environment)
    .filter((name) => name.startsWith(prefix) && name.length > prefix.length)
    .sort();
  for (const variable of names) {
    const raw = environment[variable];
    if (raw === undefined) continue;
    const segments = variable.slice(prefix.length).split('__');
    const problem = (message: string) =>
      problems.push({ source: envSourceLabel(variable), key: '', message });
    if (segments.some((s) => s === '')) {
      if (prefix !== '') problem('cannot map to a config key (empty segment between "__")');
      continue;
    }
    const path: (string | number)[] = [];
    let node: z.core.$ZodType | undefined = schema;
    let data: unknown = current;
    let unmatched: string | undefined;
    for (const segment of segments) {
      const key = keyFor(segment, node, data);
      if (key === undefined) {
        unmatched = segment;
        break;
      }
      path.push(key);
      node = node && childSchema(node, key);
      data = isMapping(data) ? data[key as string] : Array.isArray(data) ? data[key as number] : undefined;
    }
    if (unmatched !== undefined) {
      if (prefix === '' && path.length === 0) continue;
      const keys = node ? objectKeys(node) : undefined;
      const where = path.length > 0 ? ` under ${path.join('.')}` : '';
      problems.push({
        source: envSourceLabel(variable),
        key: '',
        message: `"${unmatched}" is not a config key${where}${keys ? `; keys here: ${keys.join(', ')}` : ''}`,
      });
      continue;
    }
    const coerced = node ? coerce(raw, node) : { value: raw };
    if ('error' in coerced) {
      problems.push({ source: envSourceLabel(variable), key: formatKeyPath(path), message: coerced.error });
      continue;
    }
    settings.push({ variable, path, value: coerced.value });
  }
  return { settings, problems };
}

const normalize = (s: string) => s.toLowerCase().replace(/[-_]/g, '');

/** The key `segment` stands for at `schema`; `undefined` when the schema declares keys and none matches. */
function keyFor(
  segment: string,
  schema: z.core.$ZodType | undefined,
  data: unknown,
): string | number | undefined {
  if (schema && kindOf(schema) === 'list') return /^\d+$/.test(segment) ? Number(segment) : undefined;
  const declared = schema ? objectKeys(schema) : undefined;
  const wanted = normalize(segment);
  if (declared) return declared.find((key) => normalize(key) === wanted);
  if (isMapping(data)) {
    const existing = Object.keys(data).find((key) => normalize(key) === wanted);
    if (existing !== undefined) return existing;
  }
  return segment.toLowerCase().replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

type Coerced = { value: unknown } | { error: string };

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i;
const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * `raw` as the schema expects it. A value that cannot be converted is passed on as
 * the string it is, so validation reports "expected number, got string ...".
 */
export function coerce(raw: string, schema: z.core.$ZodType): Coerced {
  const text = raw.trim();
  switch (kindOf(schema)) {
    case 'number':
      return { value: NUMBER.test(text) ? Number(text) : raw };
    case 'bigint':
      return { value: /^[-+]?\d+$/.test(text) ? BigInt(text) : raw };
    case 'boolean': {
      const lower = text.toLowerCase();
      return { value: TRUE.has(lower) ? true : FALSE.has(lower) ? false : raw };
    }
    case 'null':
      return { value: text === '' || text === 'null' ? null : raw };
    case 'list': {
      if (text.startsWith('[')) return parseJson(text, 'list');
      if (text === '') return { value: [] };
      const element = elementSchema(schema);
      const items = text
        .split(',')
        .map((item) => (element ? coerce(item.trim(), element) : { value: item.trim() }));
      const failed = items.find((item) => 'error' in item);
      return failed ?? { value: items.map((item) => (item as { value: unknown }).value) };
    }
    case 'mapping':
      return text.startsWith('{') ? parseJson(text, 'mapping') : { value: raw };
    case 'union': {
      for (const option of unionOptions(schema)) {
        const candidate = coerce(raw, option);
        if ('value' in candidate && z.safeParse(option, candidate.value).success) {
          return candidate;
        }
      }
      return { value: raw };
    }
    default:
      return { value: raw };
  }
}

function parseJson(text: string, what: string): Coerced {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: `expected a JSON ${what}, got invalid JSON (${(error as Error).message})` };
  }
}
