/** Where a process's memory was at its peak, from the samples memory-trace.ts wrote. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemorySample } from './memory-trace.ts';

export interface MemoryAtPeak {
  readonly label: string;
  /** The largest RSS sampled (VmHWM can be a little higher: it is not sampled). */
  readonly rssMb: number;
  /** Resident young generation: both semi-spaces and the new large-object space. */
  readonly youngMb: number;
  /** Resident old generation, code and large objects. */
  readonly oldMb: number;
  /** Of V8's heap, in use at that moment. */
  readonly heapUsedMb: number;
  /** Memory V8 knows of outside its heap: Buffers and other ArrayBuffers. */
  readonly externalMb: number;
  /** The rest of RSS: Node and V8's own code and data, malloc's arenas, thread stacks, socket buffers. */
  readonly restMb: number;
  readonly samples: number;
}

const mb = (bytes: number) => bytes / 2 ** 20;

/** Undefined if the process wrote no sample (it ran shorter than one interval). */
export function memoryAtPeak(dir: string, label: string, pid: number): MemoryAtPeak | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, `${pid}.jsonl`), 'utf8');
  } catch {
    return undefined;
  }
  const samples = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as MemorySample);
  if (samples.length === 0) return undefined;
  const peak = samples.reduce((max, s) => (s.rss > max.rss ? s : max));
  const young = (peak.spaces.new_space ?? 0) + (peak.spaces.new_large_object_space ?? 0);
  return {
    label,
    rssMb: mb(peak.rss),
    youngMb: mb(young),
    oldMb: mb(peak.heapPhysical - young),
    heapUsedMb: mb(peak.heapUsed),
    externalMb: mb(peak.external),
    restMb: mb(peak.rss - peak.heapPhysical - peak.external),
    samples: samples.length,
  };
}
