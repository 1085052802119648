/**
 * Node's compile cache for a run, filled before its gateway and services start.
 *
 * Every child gets NODE_COMPILE_CACHE (plan.ts), but Node writes a process's entries
 * only when it exits: on a first start, or after berth or a dependency changed, every
 * process compiles the same files at once, and each one that meets a TypeScript file
 * not in the cache loads Node's type stripper (a WebAssembly module) and keeps it.
 * Measured on shippy: 108–125 MB per process cold against 79–100 MB warm. So one
 * process (compile-only.ts) loads every entry's files first, without running them,
 * and writes the cache: ~0.7 s when nothing is cached, ~0.3 s when everything is,
 * started beside the embedded Postgres, which the services wait for anyway.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { Plan, PlannedProcess } from './plan.ts';

const COMPILE_ONLY_ENTRY = resolve(import.meta.dirname, 'compile-only.ts');

/**
 * Compiles the module files of `processes` (default: compiledProcesses) with the Node,
 * flags and environment of the plan's gateway (it holds no secret).
 * `berth run --watch` calls it again before a reload, so the new process finds the
 * changed files compiled too. Resolves when done; never rejects: a failure costs only
 * what the cache would have saved.
 */
export async function warmCompileCache(
  plan: Plan,
  processes: readonly PlannedProcess[] = compiledProcesses(plan),
): Promise<void> {
  const gateway = plan.units.find((unit) => unit.kind === 'gateway')?.processes[0];
  if (!gateway?.env.NODE_COMPILE_CACHE) return;
  const entries = [...new Set(processes.flatMap((process) => moduleFiles(process.args)))];
  const child = spawn(gateway.command, [...gateway.args.slice(0, -1), COMPILE_ONLY_ENTRY, ...entries], {
    cwd: gateway.cwd,
    env: gateway.env,
    stdio: 'ignore',
  });
  await once(child, 'exit').catch(() => undefined);
}

/** The gateway and service processes of a run, as planned: what the first warm-up compiles. */
export function compiledProcesses(plan: Plan): PlannedProcess[] {
  return plan.units
    .filter((unit) => unit.kind !== 'postgres' && plan.selected.includes(unit.name))
    .flatMap((unit) => unit.processes);
}

/** The entry (the last argument) and what `--import` preloads (under --watch, watch-imports.ts). */
function moduleFiles(args: readonly string[]): string[] {
  const preloads = args.flatMap((arg, index) => (args[index - 1] === '--import' ? [arg] : []));
  return [...preloads, args.at(-1)!];
}
