/**
 * Preloaded (`node --import`) into every benchmark server process when the run
 * asks for memory traces (`--memory-trace`): samples where the process's memory
 * is, so a peak RSS can be split into V8's heap spaces, Buffers and the rest
 * (what malloc and the code hold). One JSON line per sample, appended to
 * `$BENCH_MEMORY_TRACE_DIR/<pid>.jsonl`; run.ts reads them after the target.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

export interface MemorySample {
  /** ms since the process started */
  readonly t: number;
  readonly rss: number;
  /** Resident bytes of V8's heap (committed pages not yet touched are left out). */
  readonly heapPhysical: number;
  readonly heapUsed: number;
  /** Memory outside V8's heap that V8 knows of, Buffers' bytes included. */
  readonly external: number;
  readonly arrayBuffers: number;
  /** Resident bytes of each heap space (new_space, old_space, ...). */
  readonly spaces: Readonly<Record<string, number>>;
}

const dir = process.env.BENCH_MEMORY_TRACE_DIR;
const intervalMs = Number(process.env.BENCH_MEMORY_TRACE_MS ?? 200);
if (dir !== undefined && dir !== '') {
  const file = join(dir, `${process.pid}.jsonl`);
  const sample = () => {
    const usage = process.memoryUsage();
    const spaces: Record<string, number> = {};
    for (const space of getHeapSpaceStatistics()) spaces[space.space_name] = space.physical_space_size;
    const line: MemorySample = {
      t: Math.round(performance.now()),
      rss: usage.rss,
      heapPhysical: getHeapStatistics().total_physical_size,
      heapUsed: usage.heapUsed,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
      spaces,
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  };
  setInterval(sample, intervalMs).unref();
}
