/**
 * What `berth run` prints: every line a child writes, prefixed with its instance
 * (`vessel-1 | …`, a colour per instance on a terminal), and the runner's own
 * notes (`berth | vessel-2 exited …`). Each child's raw output is also kept in
 * `<logs dir>/<instance>.log`, which `berth logs` reads.
 *
 * Children always log JSON. On a terminal the runner renders it with pino-pretty;
 * in a pipe the JSON lines pass through, prefixed. Rendering here rather than in
 * each child keeps the log files machine-readable and spares every child pino's
 * pretty-printing worker thread (≈ 20 MB RSS each).
 *
 * Logs may hold what a service would not show anyone (emails, request details), so
 * the folder is 0700 and each file 0600, whatever an earlier run left behind.
 */
import { createWriteStream, fchmodSync, openSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { prettyFactory } from 'pino-pretty';
import { makePrivateDir } from './private-files.ts';

const COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];
const RUNNER = 'berth';

export interface LogOutputOptions {
  readonly out: Writable;
  /** Colours and pretty-printed JSON (a terminal), or plain lines (a pipe). */
  readonly pretty: boolean;
  readonly logsDir: string;
  /** Every line a child writes, as it comes (the dashboard's Logs page). */
  readonly onLine?: (instance: string, line: string) => void;
}

/** Renders JSON log lines for people; anything else passes through. */
export function createPrettifier(colour: boolean): (line: string) => string {
  const pretty = prettyFactory({
    colorize: colour,
    translateTime: 'HH:MM:ss.l',
    ignore: 'pid,hostname,service,instance',
    singleLine: true,
  });
  return (line) => (line.startsWith('{') ? pretty(line).replace(/\n$/, '') : line);
}

/** ANSI colour of the n-th instance. */
export function colourFor(n: number): number {
  return COLOURS[n % COLOURS.length]!;
}

/** `text` with `name | ` before each of its lines (coloured when `colour` is given), ending in a newline. */
export function prefixed(text: string, name: string, colour?: number): string {
  const prefix = colour === undefined ? `${name} | ` : `\x1b[${colour}m${name} | \x1b[0m`;
  return `${text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n')}\n`;
}

export class LogOutput {
  readonly #options: LogOutputOptions;
  readonly #prettify: ((line: string) => string) | undefined;
  readonly #logs = new Map<string, InstanceLog>();
  #width = RUNNER.length;

  constructor(options: LogOutputOptions) {
    this.#options = options;
    this.#prettify = options.pretty ? createPrettifier(true) : undefined;
    makePrivateDir(options.logsDir);
  }

  /** The log of `instance`: its file is truncated once per run, then appended to across restarts. */
  instance(instance: string): InstanceLog {
    let log = this.#logs.get(instance);
    if (!log) {
      this.#width = Math.max(this.#width, instance.length);
      const colour = colourFor(this.#logs.size);
      log = new InstanceLog(join(this.#options.logsDir, `${instance}.log`), (line) => {
        this.#options.onLine?.(instance, line);
        this.#print(instance, colour, this.#prettify ? this.#prettify(line) : line);
      });
      this.#logs.set(instance, log);
    }
    return log;
  }

  /** A line from the runner itself. */
  note(message: string): void {
    this.#print(RUNNER, 1, message);
  }

  /** Text without a prefix (the ready summary). */
  write(text: string): void {
    this.#options.out.write(text);
  }

  /** Bold on a terminal. */
  bold(text: string): string {
    return this.#options.pretty ? `\x1b[1m${text}\x1b[22m` : text;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#logs.values()].map((log) => log.close()));
  }

  #print(name: string, colour: number, text: string): void {
    this.#options.out.write(
      prefixed(text, name.padEnd(this.#width), this.#options.pretty ? colour : undefined),
    );
  }
}

/** One instance's output: split into lines, printed, kept in its file and a short tail. */
export class InstanceLog {
  readonly file: string;
  readonly #print: (line: string) => void;
  /** Opened (truncated) when the process first runs, so units a run leaves out keep their old file. */
  #file: WriteStream | undefined;
  #tail: string[] = [];

  constructor(file: string, print: (line: string) => void) {
    this.file = file;
    this.#print = print;
  }

  /** Follows a child's stdout or stderr until it ends. */
  attach(stream: Readable): void {
    this.#file ??= openPrivateLog(this.file);
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.line(line);
    });
    stream.on('end', () => {
      if (partial) this.line(partial);
    });
  }

  line(line: string): void {
    this.#file?.write(`${line}\n`);
    this.#tail.push(line);
    if (this.#tail.length > 40) this.#tail.shift();
    this.#print(line);
  }

  /** The last lines written, to explain a failure. */
  tail(): string {
    return this.#tail.join('\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.#file ? this.#file.end(resolve) : resolve()));
  }
}

/** Truncates (or creates) `file` for writing, owner-only even when an earlier run left it 0644. */
function openPrivateLog(file: string): WriteStream {
  const fd = openSync(file, 'w', 0o600);
  fchmodSync(fd, 0o600);
  return createWriteStream(file, { fd });
}

/** A duration in the runner's lines: `1.2 s`. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
