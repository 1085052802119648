/**
 * The external programs `berth build` drives (docker, podman, buildah, ctr): a
 * quick check that one answers, and a long run whose output streams to the user.
 * Programs are looked up on the PATH of the environment given, so the CLI's
 * environment (and a test's fake PATH) decides which binaries run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Writable } from 'node:stream';

/** A program and its arguments, with variables added to the caller's environment. */
export interface ToolCommand {
  readonly program: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export type Environment = Readonly<Record<string, string | undefined>>;

export type ProbeResult =
  | { readonly ok: true; readonly stdout: string }
  /** `problem`: what went wrong, in a sentence that names the command. */
  | { readonly ok: false; readonly notInstalled: boolean; readonly problem: string };

/** How long a check may take: an engine that takes longer to say its version is not usable. */
const PROBE_TIMEOUT_MS = 15_000;

/** Runs `command` to see whether it works (exit 0), capturing its output. */
export function probeTool(command: ToolCommand, env: Environment): ProbeResult {
  const result = spawnSync(command.program, command.args, {
    env: { ...env, ...command.env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: PROBE_TIMEOUT_MS,
  });
  const shown = `\`${formatCommand(command)}\``;
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    return { ok: false, notInstalled: true, problem: `${command.program} is not installed (not on PATH)` };
  }
  if (result.error) {
    const timedOut = (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    const why = timedOut ? `did not answer within ${PROBE_TIMEOUT_MS / 1000} s` : result.error.message;
    return { ok: false, notInstalled: false, problem: `${shown} ${why}` };
  }
  if (result.status !== 0) {
    const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join(' / ');
    const ending = result.status === null ? `was killed (${result.signal})` : `exited ${result.status}`;
    return { ok: false, notInstalled: false, problem: `${shown} ${ending}${said ? `: ${said}` : ''}` };
  }
  return { ok: true, stdout: result.stdout.trim() };
}

export interface RunOptions {
  readonly env: Environment;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Aborting kills the program (Ctrl-C stops a build). */
  readonly signal: AbortSignal;
}

/** Exit code, or undefined when the program could not be started or was killed; `problem` says which. */
export interface RunResult {
  readonly code: number | undefined;
  readonly problem: string | undefined;
}

/** Runs `command` to its end, copying its output into `stdout` and `stderr`. */
export function runTool(command: ToolCommand, options: RunOptions): Promise<RunResult> {
  const child = spawn(command.program, command.args, {
    env: { ...options.env, ...command.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: options.signal,
  });
  // Not pipe(): that would end the caller's streams when the program exits.
  child.stdout.on('data', (chunk: Buffer) => options.stdout.write(chunk));
  child.stderr.on('data', (chunk: Buffer) => options.stderr.write(chunk));
  return new Promise((done) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      const problem =
        error.code === 'ENOENT' ? `${command.program} is not installed (not on PATH)` : error.message;
      // 'close' follows 'error' only when the process had started; settle here either way.
      done({ code: undefined, problem });
    });
    child.once('close', (code, signal) =>
      done(
        code === null ? { code: undefined, problem: `killed by ${signal}` } : { code, problem: undefined },
      ),
    );
  });
}

/** The first executable `program` in the folders of PATH, then in `moreFolders`. */
export function findOnPath(
  program: string,
  env: Environment,
  moreFolders: readonly string[] = [],
): string | undefined {
  const folders = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...moreFolders];
  return folders.map((folder) => join(folder, program)).find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The command as one could paste it into a shell, its variables first. */
export function formatCommand(command: ToolCommand): string {
  const variables = Object.entries(command.env ?? {}).map(([name, value]) => `${name}=${shellWord(value)}`);
  return [...variables, ...[command.program, ...command.args].map(shellWord)].join(' ');
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
