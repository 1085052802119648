import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import type { MemoryAtPeak } from './memory-report.ts';
import type { TargetId } from './run.ts';

export interface MachineFacts {
  readonly date: string;
  readonly nproc: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly loadAverage: string;
}

export interface Measurement {
  readonly id: TargetId;
  readonly title: string;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** CPU time (user + system) per request of each server process, µs. */
  readonly cpu: ReadonlyArray<{ readonly label: string; readonly us: number }>;
}

/** One server process of a target, labelled `(c) berth gateway`. */
export interface ProcessMemory {
  readonly label: string;
  readonly idleMb: number;
  /** VmHWM at the end of the measured window; undefined if the target failed before. */
  readonly peakMb: number | undefined;
  /** CPU time (user + system) per request in the measured window, µs. */
  readonly cpuUs: number | undefined;
}

export interface ReportInput {
  readonly facts: MachineFacts;
  readonly settings: {
    readonly durationS: number;
    readonly warmupS: number;
    readonly connections: number;
    readonly threads: number;
    readonly rounds: number;
    readonly berthNodeArgs: readonly string[];
  };
  readonly measurements: readonly Measurement[];
  readonly processes: readonly ProcessMemory[];
  /** With --memory-trace: where each process's memory was at its peak. */
  readonly atPeak: readonly MemoryAtPeak[];
}

/** Idle RSS limit of a berth service and of the berth gateway. */
const rssLimitMb = 80;
/** (c) against (d) in requests/s. */
const minRatioToMoleculer = 2.0;

export function machineFacts(): MachineFacts {
  return {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
  };
}

interface Goal {
  readonly text: string;
  /** undefined when a target it needs was not measured. */
  readonly met: boolean | undefined;
  readonly detail: string;
}

function goals(input: ReportInput): Goal[] {
  const by = new Map(input.measurements.map((m) => [m.id, m]));
  const ratio = (x: TargetId, y: TargetId) => {
    const mx = by.get(x);
    const my = by.get(y);
    return mx && my ? mx.requestsPerSec / my.requestsPerSec : undefined;
  };
  const atLeast = (text: string, value: number | undefined, min: number): Goal => ({
    text,
    met: value === undefined ? undefined : value >= min,
    detail: value === undefined ? 'not measured' : `${value.toFixed(2)}×`,
  });
  const c = by.get('c');
  const b = by.get('b');
  const processOf = (label: string) => input.processes.find((p) => p.label === label);
  const rssGoal = (label: string): Goal => {
    const mb = processOf(label)?.idleMb;
    return {
      text: `idle RSS of the ${label} ≤ ${rssLimitMb} MB`,
      met: mb === undefined ? undefined : mb <= rssLimitMb,
      detail: mb === undefined ? 'not measured' : `${mb.toFixed(1)} MB`,
    };
  };
  const pairPeak = (id: TargetId, stack: string) => {
    const peaks = ['gateway', 'service'].map((role) => processOf(`(${id}) ${stack} ${role}`)?.peakMb);
    return peaks.every((mb) => mb !== undefined) ? sum(peaks as number[]) : undefined;
  };
  const berthPeak = pairPeak('c', 'berth');
  const moleculerPeak = pairPeak('d', 'moleculer');
  return [
    atLeast(`(c) ≥ ${minRatioToMoleculer.toFixed(1)}× (d) req/s`, ratio('c', 'd'), minRatioToMoleculer),
    atLeast('(c) ≥ 0.85× (b) req/s', ratio('c', 'b'), 0.85),
    {
      text: 'p99 of (c) ≤ p99 of (b)',
      met: c && b ? c.p99Ms <= b.p99Ms : undefined,
      detail: c && b ? `${c.p99Ms.toFixed(2)} ms vs ${b.p99Ms.toFixed(2)} ms` : 'not measured',
    },
    {
      text: 'peak RSS of (c) gateway + service ≤ of (d)',
      met: berthPeak !== undefined && moleculerPeak !== undefined ? berthPeak <= moleculerPeak : undefined,
      detail:
        berthPeak !== undefined && moleculerPeak !== undefined
          ? `${berthPeak.toFixed(1)} MB vs ${moleculerPeak.toFixed(1)} MB`
          : 'not measured',
    },
    atLeast('(e) ≥ 0.5× (a) req/s', ratio('e', 'a'), 0.5),
    rssGoal('(c) berth service'),
    rssGoal('(c) berth gateway'),
    // Only when (g) ran (--tracing): tracing every request costs at most 10% of (c)'s throughput.
    ...(by.has('g') ? [atLeast('(g) traced ≥ 0.9× (c) req/s', ratio('g', 'c'), 0.9)] : []),
    // (h) and (i) bound what any exporter could reach: (g) cannot beat its spans with none sent.
    ...(by.has('h') ? [atLeast('(h) spans dropped ≥ 0.9× (c) req/s', ratio('h', 'c'), 0.9)] : []),
    ...(by.has('i') ? [atLeast('(i) nothing sampled ≥ 0.9× (c) req/s', ratio('i', 'c'), 0.9)] : []),
  ];
}

const sum = (values: readonly number[]): number => values.reduce((total, n) => total + n, 0);

/** Total, and per process when there are several: `52 (gateway 31 + service 21)`. */
function cpuCell(m: Measurement): string {
  const total = Math.round(m.cpu.reduce((sum, p) => sum + p.us, 0));
  if (m.cpu.length < 2) return String(total);
  const role = (label: string) => /gateway|service/.exec(label)?.[0] ?? label;
  return `${total} (${m.cpu.map((p) => `${role(p.label)} ${Math.round(p.us)}`).join(' + ')})`;
}

export function renderReport(input: ReportInput): string {
  const { facts, settings } = input;
  const by = new Map(input.measurements.map((m) => [m.id, m]));
  const vs = (m: Measurement, base: 'a' | 'b') => {
    const b = by.get(base);
    return b && (base === 'b' || m.id === 'e' || m.id === 'a')
      ? `${(m.requestsPerSec / b.requestsPerSec).toFixed(2)}×`
      : '';
  };
  const mb = (value: number | undefined) => (value === undefined ? '' : `${value.toFixed(1)} MB`);
  const lines = [
    `Measured ${facts.date} on ${facts.nproc} cores (${facts.cpu}), ${facts.memoryGiB} GiB, Node ${facts.node}; ` +
      `load average at start ${facts.loadAverage}. wrk -t${settings.threads} -c${settings.connections}, ` +
      `${settings.warmupS} s warm-up then ${settings.durationS} s measured per target` +
      (settings.rounds > 1 ? `, median of ${settings.rounds} rounds` : '') +
      `; berth's processes run with \`${settings.berthNodeArgs.join(' ') || "Node's defaults"}\`` +
      '; servers and wrk share the cores, nothing pinned.',
    '',
    '| target | req/s | p50 | p99 | vs (b) | vs (a) | CPU µs/req | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...input.measurements.map(
      (m) =>
        `| (${m.id}) ${m.title} | ${Math.round(m.requestsPerSec)} | ${m.p50Ms.toFixed(2)} ms | ${m.p99Ms.toFixed(2)} ms | ${vs(m, 'b')} | ${vs(m, 'a')} | ${cpuCell(m)} | ${m.errors} |`,
    ),
    '',
    '| process | idle RSS | peak RSS (VmHWM) | CPU µs/req |',
    '|---|---:|---:|---:|',
    ...input.processes.map(
      (p) =>
        `| ${p.label} | ${mb(p.idleMb)} | ${mb(p.peakMb)} | ${p.cpuUs === undefined ? '' : Math.round(p.cpuUs)} |`,
    ),
    ...(input.atPeak.length === 0
      ? []
      : [
          '',
          '| process at its peak (sampled) | RSS | V8 young generation | V8 old generation | heap used | Buffers and external | rest |',
          '|---|---:|---:|---:|---:|---:|---:|',
          ...input.atPeak.map(
            (p) =>
              `| ${p.label} | ${mb(p.rssMb)} | ${mb(p.youngMb)} | ${mb(p.oldMb)} | ${mb(p.heapUsedMb)} | ${mb(p.externalMb)} | ${mb(p.restMb)} |`,
          ),
        ]),
    '',
    '| goal | measured | met |',
    '|---|---:|:---:|',
    ...goals(input).map(
      (g) => `| ${g.text} | ${g.detail} | ${g.met === undefined ? '–' : g.met ? 'yes' : 'no'} |`,
    ),
  ];
  return lines.join('\n');
}
