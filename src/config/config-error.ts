/**
 * ConfigError: everything wrong with a configuration, one problem per line, in the
 * shape `<source>: <key>: <what was expected>, got <what was found>`. The source is
 * the file (or environment variable) the offending value came from, so a person at
 * a terminal can go straight to it. The message is final text; callers print it
 * and exit non-zero (only the CLI does that).
 */

/** One thing wrong with a configuration. */
export interface ConfigProblem {
  /** Where the value came from: a file path, `environment variable X`, or the folder for missing keys. */
  readonly source: string;
  /** Dotted key path such as `database.pool.max` (`services.vessel.dependsOn[0]`); empty for the whole file. */
  readonly key: string;
  /** What was expected and what was found. */
  readonly message: string;
  /** 1-based line and column in `source`, when it is a file and the position is known. */
  readonly line?: number;
  readonly column?: number;
}

/** `source: key: message (line N)`; the line suffix only when known. */
export function formatConfigProblem(problem: ConfigProblem): string {
  const head = problem.key === '' ? `${problem.source}: ` : `${problem.source}: ${problem.key}: `;
  const where = problem.line === undefined ? '' : ` (line ${problem.line})`;
  return head + problem.message + where;
}

/** All problems, one line each, in the order found. */
export function formatConfigProblems(problems: readonly ConfigProblem[]): string {
  return problems.map(formatConfigProblem).join('\n');
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(formatConfigProblems(problems));
    this.problems = problems;
  }
}

/** `database.pool.max`, `services.vessel.dependsOn[0]`, `env["my key"]`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const name = String(segment);
      if (/^[A-Za-z_$][\w$-]*$/.test(name)) out += out === '' ? name : `.${name}`;
      else out += `[${JSON.stringify(name)}]`;
    }
  }
  return out;
}

/** A found value for an error message: `string "abc"`, `number 5`, `a list`, `a mapping`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value)}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return value instanceof Date ? `date ${value.toISOString()}` : 'a mapping';
    default:
      return typeof value;
  }
}
