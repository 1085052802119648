/**
 * Validation with zod, reported as ConfigProblems: each zod issue becomes one line
 * naming the source of the offending value (via Provenance), its key path and
 * "expected X, got Y". Schemas may give their own wording: a custom message that
 * starts with "expected" is used as the expectation, verbatim; the message of a
 * custom check (`.check`, `.refine`) is used as the whole line.
 */
import { z } from 'zod';
import { ConfigError, type ConfigProblem, describeValue, formatKeyPath } from './config-error.ts';
import type { Path, Provenance, Source } from './provenance.ts';
import { childSchema, objectKeys } from './schema-shape.ts';

type Issue = z.core.$ZodIssue;

export interface ValidateContext {
  readonly provenance: Provenance;
  /** Source label for a required key that no source set, with an optional hint on where to set it. */
  readonly missing: (path: Path) => { source: string; hint?: string };
}

/** Parse `data` with `schema`; on failure throw a ConfigError with one problem per issue. */
export function validate<S extends z.core.$ZodType>(
  schema: S,
  data: unknown,
  context: ValidateContext,
): z.output<S> {
  const result = z.safeParse(schema, data, { reportInput: true });
  if (result.success) return result.data as z.output<S>;
  throw new ConfigError(problemsFromIssues(result.error.issues, schema, context));
}

export function problemsFromIssues(
  issues: readonly Issue[],
  schema: z.core.$ZodType,
  context: ValidateContext,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const allowed = objectKeys(schemaAt(schema, path) ?? schema);
      for (const key of issue.keys) {
        const keyPath = [...path, key];
        const hint = allowed && allowed.length > 0 ? `; allowed here: ${allowed.join(', ')}` : '';
        const suggestion = allowed ? closest(key, allowed) : undefined;
        problems.push(
          at(context, keyPath, `unknown key${suggestion ? ` (did you mean "${suggestion}"?)` : ''}${hint}`),
        );
      }
      continue;
    }
    if (issue.input === undefined && issue.code === 'invalid_type') {
      const { source, hint } = context.missing(path);
      problems.push({
        source,
        key: formatKeyPath(path),
        message: `missing required key, expected ${expectedType(issue.expected)}${hint ? `; ${hint}` : ''}`,
      });
      continue;
    }
    problems.push(at(context, path, describeIssue(issue)));
  }
  return problems;
}

/** A problem about the value at `path`, attributed to the source(s) it came from. */
function at(context: ValidateContext, path: Path, message: string): ConfigProblem {
  const sources = context.provenance.sourcesOf(path);
  if (sources.length === 0) {
    return { source: context.missing(path).source, key: formatKeyPath(path), message };
  }
  const position = sources.length === 1 ? sources[0]!.locate?.(path) : undefined;
  return {
    source: sources.map((s: Source) => s.label).join(', '),
    key: formatKeyPath(path),
    message,
    ...(position ? { line: position.line, column: position.column } : {}),
  };
}

function describeIssue(issue: Issue): string {
  const got = `got ${describeValue(issue.input)}`;
  if (issue.code === 'custom') return issue.message;
  if (issue.message.startsWith('expected')) return `${issue.message}, ${got}`;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${expectedType(issue.expected)}, ${got}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, ${got}`;
    case 'invalid_format': {
      const format =
        issue.format === 'regex' && 'pattern' in issue
          ? `string matching ${String(issue.pattern)}`
          : issue.format;
      return `expected ${format}, ${got}`;
    }
    case 'too_small':
    case 'too_big': {
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      if (issue.origin === 'array' || issue.origin === 'set')
        return `expected a list of ${op} ${limit} items, ${got}`;
      if (issue.origin === 'string') return `expected a string of ${op} ${limit} characters, ${got}`;
      return `expected a ${issue.origin} ${op} ${limit}, ${got}`;
    }
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}, ${got}`;
    case 'invalid_union': {
      const expected = issue.errors.flatMap((branch) =>
        branch.length === 1 && branch[0]!.code === 'invalid_type' ? [expectedType(branch[0]!.expected)] : [],
      );
      if (expected.length === issue.errors.length && expected.length > 0) {
        return `expected ${[...new Set(expected)].join(' or ')}, ${got}`;
      }
      return `${issue.message}, ${got}`;
    }
    case 'invalid_key': {
      const inner = issue.issues[0];
      return `invalid key: ${inner ? describeIssue({ ...inner, input: issue.input } as Issue) : issue.message}`;
    }
    default:
      return `${issue.message}, ${got}`;
  }
}

function expectedType(expected: string): string {
  switch (expected) {
    case 'int':
      return 'integer';
    case 'array':
    case 'tuple':
      return 'a list';
    case 'object':
    case 'record':
    case 'map':
      return 'a mapping';
    default:
      return expected;
  }
}

function schemaAt(schema: z.core.$ZodType, path: Path): z.core.$ZodType | undefined {
  let current: z.core.$ZodType | undefined = schema;
  for (const segment of path) {
    if (!current) return undefined;
    current = childSchema(current, segment);
  }
  return current;
}

/** The allowed key closest to a mistyped one, if it is close (case, `_`/`-`, or an edit or two). */
function closest(key: string, allowed: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const wanted = norm(key);
  let best: string | undefined;
  let bestDistance = wanted.length < 6 ? 1 : 2;
  for (const candidate of allowed) {
    const d = distance(wanted, norm(candidate));
    if (d === 0) return candidate;
    if (d <= bestDistance) {
      best = candidate;
      bestDistance = d - 1;
    }
  }
  return best;
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
