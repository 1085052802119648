/**
 * One spawned run of a supervised process (supervised-process.ts): the child, in a
 * process group of its own (a Ctrl-C at the terminal reaches the runner only, which
 * stops its children in order), its output going to the instance's log, and a
 * promise of why it exited.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InstanceLog } from './log-output.ts';

export interface RunCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

export interface Run {
  readonly child: ChildProcess;
  /** Why it exited (`exit code 1`, `signal SIGTERM`, or why it could not start); never rejects. */
  readonly exited: Promise<string>;
  readonly startedAt: number;
  /** Set when the supervisor stopped it for failing its health check. */
  unhealthy?: string;
  /** Set when replace() handed over to this run: its exit is no crash. */
  replacedBy?: Run;
}

export function launchRun(run: RunCommand, env: Readonly<Record<string, string>>, log: InstanceLog): Run {
  const child = spawn(run.command, run.args, {
    cwd: run.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  log.attach(child.stdout!);
  log.attach(child.stderr!);
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => {
      log.line(`cannot start ${run.command}: ${error.message}`);
      resolve(error.message);
    });
    child.once('exit', (code, signal) => {
      // Its last lines may still be in the pipes: let them be printed first (briefly: a
      // grandchild holding the pipes open must not stall the runner).
      const closed = new Promise((done) => child.once('close', done));
      void Promise.race([closed, sleep(1000)]).then(() =>
        resolve(signal ? `signal ${signal}` : `exit code ${code}`),
      );
    });
  });
  return { child, exited, startedAt: Date.now() };
}

export function isRunning(run: Run): boolean {
  return run.child.exitCode === null && run.child.signalCode === null;
}

export function signalRun(run: Run, signal: NodeJS.Signals): void {
  try {
    run.child.kill(signal);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after the grace period (a wedged or stopped process ignores SIGTERM). */
export async function terminateRun(run: Run, graceMs: number): Promise<void> {
  signalRun(run, 'SIGTERM');
  const timer = setTimeout(() => signalRun(run, 'SIGKILL'), graceMs);
  await run.exited;
  clearTimeout(timer);
}
