import type { MachineFacts } from '../gateway/report.ts';

export type RegistryKind = 'local' | 'kube' | 'kube-informer';

export const registryTitles: Record<RegistryKind, string> = {
  local: 'local (shared folder)',
  kube: 'Kubernetes (EndpointSlices)',
  'kube-informer': 'baseline: bare client-node informer',
};

/** One step: a fresh follower, from 0 to `instances` and back to 0. */
export interface Step {
  readonly registry: RegistryKind;
  readonly instances: number;
  /** From the request (register / scale) until the follower held all instances. */
  readonly convergeMs: number;
  /** From the request until it was done: local, the last file written; undefined on Kubernetes. */
  readonly requestMs: number | undefined;
  readonly cpuMs: number;
  /** Registry events the cache consumed (baseline: EndpointSlice watch events). */
  readonly events: number;
  readonly requests: number;
  /** Whether every instance was also offered by proto service. */
  readonly servingAll: boolean;
  readonly startRssMb: number;
  readonly peakRssMb: number;
  readonly idle: {
    readonly seconds: number;
    readonly cpuPercent: number;
    readonly events: number;
    readonly requests: number;
    readonly connections: number;
    /** RSS at the end of the idle window, MB. */
    readonly rssMb: number;
  };
  /** Back to 0: until the follower held none. */
  readonly downMs: number;
  readonly downCpuMs: number;
  readonly downEvents: number;
}

export interface ReportInput {
  readonly facts: MachineFacts;
  readonly loadAtEnd: string;
  readonly settleS: number;
  readonly steps: readonly Step[];
}

const ms = (value: number) => (value >= 100 ? Math.round(value).toString() : value.toFixed(1));
const signed = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(1)}`;
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : '–');

/** The smallest and largest step of a registry, side by side. */
export function growth(steps: readonly Step[], registry: RegistryKind): string | undefined {
  const mine = steps.filter((step) => step.registry === registry).sort((a, b) => a.instances - b.instances);
  if (mine.length < 2) return undefined;
  const small = mine[0]!;
  const large = mine[mine.length - 1]!;
  return (
    `${registryTitles[registry]}: ${small.instances} → ${large.instances} instances ` +
    `(${ratio(large.instances, small.instances)}): time to converge ${ratio(large.convergeMs, small.convergeMs)}, ` +
    `CPU ${ratio(large.cpuMs, small.cpuMs)}, CPU per instance ${ratio(large.cpuMs / large.instances, small.cpuMs / small.instances)}, ` +
    `events ${ratio(large.events, small.events)}, idle CPU ${ratio(large.idle.cpuPercent, small.idle.cpuPercent)}, ` +
    `peak RSS ${signed(large.peakRssMb - small.peakRssMb)} MB`
  );
}

/** berth's Kubernetes follower against the bare informer, step by step. */
function againstBaseline(steps: readonly Step[]): string[] {
  return steps
    .filter((step) => step.registry === 'kube')
    .flatMap((step) => {
      const base = steps.find((b) => b.registry === 'kube-informer' && b.instances === step.instances);
      if (!base) return [];
      return [
        `${step.instances}: converged ${ms(step.convergeMs - base.convergeMs)} ms after the informer, ` +
          `CPU ${ratio(step.cpuMs, base.cpuMs)} of the informer's, peak RSS ${ratio(step.peakRssMb, base.peakRssMb)}`,
      ];
    });
}

export function renderReport(input: ReportInput): string {
  const { facts, steps } = input;
  const idleSeconds = steps[0]?.idle.seconds ?? 0;
  const lines = [
    `Measured ${facts.date} on ${facts.nproc} cores (${facts.cpu}), ${facts.memoryGiB} GiB, Node ${facts.node}; ` +
      `load average ${facts.loadAverage} at start and ${input.loadAtEnd} at the end (the cores are shared ` +
      `with the control plane, the followers and anything else running). Every step starts a fresh follower, goes ` +
      `from 0 to N instances, settles ${input.settleS} s, stays idle ${idleSeconds} s, then goes back to 0.`,
    '',
    '| registry | instances | converge (ms) | follower CPU (ms) | CPU ms / instance | events | peak RSS (MB) | idle CPU (% of a core) | back to 0 (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...steps.map(
      (s) =>
        `| ${registryTitles[s.registry]} | ${s.instances} | ${ms(s.convergeMs)} | ${ms(s.cpuMs)} | ` +
        `${(s.cpuMs / s.instances).toFixed(2)} | ${s.events} | ${s.peakRssMb.toFixed(1)} | ` +
        `${s.idle.cpuPercent.toFixed(2)} | ${ms(s.downMs)} |`,
    ),
    '',
    `While idle (${idleSeconds} s, nothing changing) and on the way back to 0:`,
    '',
    '| registry | instances | RSS at start (MB) | idle events | idle HTTP requests | idle new connections | back to 0: CPU (ms) | back to 0: events |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...steps.map(
      (s) =>
        `| ${registryTitles[s.registry]} | ${s.instances} | ${s.startRssMb.toFixed(1)} | ${s.idle.events} | ` +
        `${s.idle.requests} | ${s.idle.connections} | ${ms(s.downCpuMs)} | ${s.downEvents} |`,
    ),
    '',
    'How it grows (largest step against the smallest):',
    '',
    ...(['local', 'kube', 'kube-informer'] as const).flatMap((registry) => {
      const line = growth(steps, registry);
      return line ? [`- ${line}`] : [];
    }),
  ];
  const baseline = againstBaseline(steps);
  if (baseline.length > 0) {
    lines.push(
      '',
      'berth on Kubernetes against the bare informer:',
      '',
      ...baseline.map((line) => `- ${line}`),
    );
  }
  const notServing = steps.filter((s) => !s.servingAll);
  if (notServing.length > 0) {
    lines.push(
      '',
      `Not every instance was offered by proto service at: ${notServing.map((s) => `${s.registry} ${s.instances}`).join(', ')}.`,
    );
  }
  return lines.join('\n');
}
