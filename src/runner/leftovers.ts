/**
 * What a start must clear first: processes an earlier runner left behind when it
 * died without stopping them, and anything else on the gateway's port.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive } from '../registry/local-trust.ts';
import type { Plan } from './plan.ts';
import type { RunState } from './state.ts';

/** Refuses, saying what to do, when something already listens on the gateway's port. */
export async function ensurePortFree(port: number): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'EADDRINUSE'
        ? `the gateway port ${port} is already in use; stop what uses it, or pass --port <port>`
        : `cannot listen on the gateway port ${port}: ${(error as Error).message}`,
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * Processes of a runner that died without stopping them (SIGKILL, crash) still hold
 * the database and ports. Each is stopped if it is still the process the state file
 * recorded: the same pid running the same entry file (the last argument; /proc, Linux).
 */
export async function stopLeftovers(previous: RunState, plan: Plan): Promise<void> {
  const entries = new Map(
    plan.units.flatMap((unit) => unit.processes.map((p) => [p.instance, p.args.at(-1)!])),
  );
  const leftovers = previous.processes.filter((process) => {
    if (process.pid === undefined || !entries.has(process.instance)) return false;
    try {
      const cmdline = readFileSync(`/proc/${process.pid}/cmdline`, 'utf8');
      return cmdline.includes(entries.get(process.instance)!);
    } catch {
      return false;
    }
  });
  for (const leftover of leftovers) process.kill(leftover.pid!, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (leftovers.some((leftover) => isProcessAlive(leftover.pid!))) {
    if (Date.now() > deadline) {
      for (const leftover of leftovers)
        if (isProcessAlive(leftover.pid!)) process.kill(leftover.pid!, 'SIGKILL');
    }
    await sleep(50);
  }
}
