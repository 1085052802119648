/**
 * A `berth` command: one file per command under ./commands, listed (with its one-line
 * summary) in ./commands/index.ts.
 * Commands receive parsed arguments and an IO object, and return an exit code;
 * only main.ts touches process.argv, process.env and process.exit.
 */
import type { Writable } from 'node:stream';

export interface CommandIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Aborts on Ctrl-C / SIGTERM; long-running commands stop gracefully on it. */
  readonly signal: AbortSignal;
  /** Whether stdout is a terminal (colours, live progress) or a pipe (plain lines). */
  readonly isTty: boolean;
}

export interface Command {
  readonly name: string;
  /** Usage text shown by `berth help <name>` and on a usage error. */
  readonly usage: string;
  /**
   * Options as for node:util parseArgs; positionals are allowed.
   * Example: `{ header: { type: 'string', short: 'H', multiple: true } }`.
   */
  readonly options?: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }
  >;
  run(args: { positionals: string[]; values: Record<string, unknown> }, io: CommandIo): Promise<number>;
}

/** A mistake in how a command was invoked: main prints it with the usage and exits 2. */
export class UsageError extends Error {}

/**
 * A whole-number option within [min, max], or undefined when it was not given.
 * Anything else is a UsageError naming the option: `Number()` alone would let
 * "5m" through as NaN, and a NaN deadline never passes.
 */
export function integerOption(
  values: Record<string, unknown>,
  name: string,
  what: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min}-${max}`;
    throw new UsageError(`--${name}: expected ${what} (${range}), got "${String(raw)}"`);
  }
  return value;
}
