/**
 * `npm run bench:gateway`: requests/s and latency of one trivial method (vessel
 * FindAvailable, answered from memory) through six stacks, measured one after
 * another in the same run on this machine, with ratios against the bare baselines:
 *
 *   (a) bare node:http, one hop
 *   (b) bare node:http gateway → bare node:http service (undici keep-alive), two processes
 *   (c) berth Gateway /rpc → berth Service (local registry), two processes
 *   (d) moleculer-web → Moleculer service over the TCP transporter, two processes
 *   (e) berth Service called directly (Connect JSON), one hop
 *   (f) as (c), with berth frames turned off (BERTH_CALL_PROTOCOL=http): the
 *       gateway calls the service over HTTP/1.1 keep-alive (undici)
 *   (g) as (c), traced: every request sampled (OTEL_TRACES_SAMPLER=always_on, or
 *       --trace-ratio), its spans exported over OTLP/HTTP protobuf to a local sink
 *       that drops them (otlp-sink.ts); only with --tracing or in --targets
 *   (h) as (g), its spans dropped in the process instead of exported
 *       (dropped-spans.ts): tracing's cost without the export; only in --targets
 *   (i) as (h) with OTEL_TRACES_SAMPLER=always_off: spans made and propagated,
 *       none recorded, the SDK's floor; only in --targets
 *
 * Load: wrk with a POST script. Each target's processes are started fresh, given a
 * short idle (their RSS is read then), warmed up, measured (CPU time per request,
 * and peak RSS, VmHWM, at the end), and stopped. berth's processes get the Node
 * flags they are meant to be started with (processes.ts, berthNodeArgs); the
 * baselines get Node's defaults.
 *
 * Options (flag or environment variable):
 *   --duration S     BENCH_DURATION     measured seconds per target (10)
 *   --warmup S       BENCH_WARMUP       warm-up seconds per target (3)
 *   --connections N  BENCH_CONNECTIONS  wrk connections (50)
 *   --threads N      BENCH_THREADS      wrk threads (2)
 *   --rounds N       BENCH_ROUNDS       repeat every target N times; medians are reported (1)
 *   --targets LIST   BENCH_TARGETS      e.g. c,e (all but g)
 *   --tracing        BENCH_TRACING=1    add (g), to compare with (c): tracing's cost
 *   --trace-ratio R  BENCH_TRACE_RATIO  (g) keeps this share of traces
 *                    (parentbased_traceidratio) instead of all (always_on)
 *   --idle MS        BENCH_IDLE_MS      idle time before reading RSS (2000)
 *   --profile DIR    BENCH_PROFILE_DIR  run berth's processes with --cpu-prof into DIR
 *   --berth-node-args="FLAGS"  BENCH_BERTH_NODE_ARGS  Node flags of berth's processes
 *                    instead of berthNodeArgs ("" for Node's defaults)
 *   --memory-trace   BENCH_MEMORY_TRACE=1  sample every process's memory (memory-trace.ts)
 *                    and print where each one's peak RSS is
 *   --write          BENCH_WRITE=1      write the results into docs/benchmarks.md
 * Quick check: `node bench/gateway/run.ts --duration 2 --warmup 1`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeResultsSection } from '../results-section.ts';
import { type MemoryAtPeak, memoryAtPeak } from './memory-report.ts';
import { berthNodeArgs, killAll, Launcher, type ServerProcess, stopAll } from './processes.ts';
import { type Measurement, machineFacts, type ProcessMemory, renderReport } from './report.ts';
import { expectedAnswer, specification } from './vessels.ts';
import { assertWrkInstalled, killWrk, runWrk, type WrkResult } from './wrk.ts';

export type TargetId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'i';

interface Started {
  readonly processes: ServerProcess[];
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

interface Target {
  readonly id: TargetId;
  readonly title: string;
  start(launch: Launcher, settings: { readonly traceRatio: number | undefined }): Promise<Started>;
}

const json = { 'Content-Type': 'application/json' };
const envelope = JSON.stringify({
  service: 'vessel',
  method: 'VesselService.FindAvailable',
  request: specification,
});
const spec = JSON.stringify(specification);
const listenMs = 30_000;

const registryDirs = new Set<string>();

/** A fresh local registry folder for one target's berth processes; removed by removeRegistryDirs. */
async function registryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-registry-'));
  registryDirs.add(dir);
  return dir;
}

async function removeRegistryDirs(): Promise<void> {
  await Promise.all([...registryDirs].map((dir) => rm(dir, { recursive: true, force: true })));
  registryDirs.clear();
}

/** The berth service and gateway of (c) and (f), sharing a fresh local registry. */
async function startBerthPair(
  launch: Launcher,
  extraEnv: Readonly<Record<string, string>> = {},
  suffix = '',
): Promise<Started> {
  const dir = await registryDir();
  const env = { BERTH_REGISTRY: 'local', BERTH_REGISTRY_DIR: dir, ...extraEnv };
  const service = launch.berth(`berth service${suffix}`, 'berth-vessel.ts', env);
  await service.listening(listenMs);
  const gateway = launch.berth(`berth gateway${suffix}`, 'berth-gateway.ts', env);
  const address = await gateway.listening(listenMs);
  return { processes: [gateway, service], url: `http://${address}/rpc`, body: envelope, headers: json };
}

const targets: readonly Target[] = [
  {
    id: 'a',
    title: 'bare node:http (1 hop)',
    async start(launch) {
      const server = launch.baseline('bare server', 'bare-server.ts');
      const address = await server.listening(listenMs);
      return { processes: [server], url: `http://${address}/rpc`, body: envelope, headers: json };
    },
  },
  {
    id: 'b',
    title: 'bare gateway → bare service',
    async start(launch) {
      const service = launch.baseline('bare service', 'bare-server.ts');
      const upstream = await service.listening(listenMs);
      const gateway = launch.baseline('bare gateway', 'bare-gateway.ts', { UPSTREAM: upstream });
      const address = await gateway.listening(listenMs);
      return { processes: [gateway, service], url: `http://${address}/rpc`, body: envelope, headers: json };
    },
  },
  {
    id: 'c',
    title: 'berth Gateway /rpc → berth Service',
    start: (launch) => startBerthPair(launch),
  },
  {
    id: 'd',
    title: 'moleculer-web → Moleculer (TCP)',
    async start(launch) {
      const service = launch.baseline('moleculer service', 'moleculer-vessel.ts');
      const node = await service.listening(listenMs);
      const gateway = launch.baseline('moleculer gateway', 'moleculer-gateway.ts', { VESSEL_NODE: node });
      const address = await gateway.listening(listenMs);
      return {
        processes: [gateway, service],
        url: `http://${address}/vessel/findAvailable`,
        body: spec,
        headers: json,
      };
    },
  },
  {
    id: 'e',
    title: 'berth Service direct (Connect JSON)',
    async start(launch) {
      const dir = await registryDir();
      const service = launch.berth('berth service', 'berth-vessel.ts', {
        BERTH_REGISTRY: 'local',
        BERTH_REGISTRY_DIR: dir,
      });
      const address = await service.listening(listenMs);
      return {
        processes: [service],
        url: `http://${address}/shippy.vessel.v1.VesselService/FindAvailable`,
        body: spec,
        headers: { ...json, 'Connect-Protocol-Version': '1' },
      };
    },
  },
  {
    id: 'f',
    title: 'berth Gateway /rpc → berth Service over HTTP/1.1',
    start: (launch) => startBerthPair(launch, { BERTH_CALL_PROTOCOL: 'http' }, ' (HTTP/1.1 calls)'),
  },
  {
    id: 'g',
    title: 'berth Gateway /rpc → berth Service, traced (OTLP)',
    async start(launch, { traceRatio }) {
      const sink = launch.baseline('OTLP sink', 'otlp-sink.ts');
      const address = await sink.listening(listenMs);
      const sampler: Record<string, string> =
        traceRatio === undefined
          ? { OTEL_TRACES_SAMPLER: 'always_on' }
          : { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(traceRatio) };
      const pair = await startBerthPair(
        launch,
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${address}`,
          ...sampler,
          // Room for a second of spans at full load: the SDK drops what does not fit.
          OTEL_BSP_MAX_QUEUE_SIZE: '65536',
        },
        ' (traced)',
      );
      return { ...pair, processes: [...pair.processes, sink] };
    },
  },
  {
    id: 'h',
    title: 'berth Gateway /rpc → berth Service, traced, spans dropped (no export)',
    start: (launch) =>
      startBerthPair(
        launch,
        { BENCH_SPANS: 'dropped', OTEL_TRACES_SAMPLER: 'always_on' },
        ' (spans dropped)',
      ),
  },
  {
    id: 'i',
    title: 'berth Gateway /rpc → berth Service, SDK on, nothing sampled',
    start: (launch) =>
      startBerthPair(launch, { BENCH_SPANS: 'dropped', OTEL_TRACES_SAMPLER: 'always_off' }, ' (unsampled)'),
  },
];

/** Waits until the target answers the benchmark request correctly (the gateway may not see the service yet). */
async function answersCorrectly(started: Started, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(started.url, {
        method: 'POST',
        headers: started.headers,
        body: started.body,
      });
      const text = await response.text();
      if (response.status === 200 && text === expectedAnswer) return;
      last = `HTTP ${response.status}: ${text}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${started.url} did not answer ${expectedAnswer} within ${timeoutMs} ms; last: ${last}`);
}

function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      rounds: { type: 'string' },
      targets: { type: 'string' },
      idle: { type: 'string' },
      profile: { type: 'string' },
      'berth-node-args': { type: 'string' },
      'memory-trace': { type: 'boolean' },
      tracing: { type: 'boolean' },
      'trace-ratio': { type: 'string' },
      write: { type: 'boolean' },
    },
  });
  const env = process.env;
  const positive = (name: string, value: string | undefined, fallback: number, min = 1): number => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
  const wanted = (values.targets ?? env.BENCH_TARGETS ?? 'a,b,c,d,e,f').split(',').map((t) => t.trim());
  for (const id of wanted) {
    if (!targets.some((t) => t.id === id))
      throw new Error(`--targets: unknown target "${id}" (use a,b,c,d,e,f,g,h,i)`);
  }
  if ((values.tracing ?? env.BENCH_TRACING === '1') && !wanted.includes('g')) wanted.push('g');
  const connections = positive('connections', values.connections ?? env.BENCH_CONNECTIONS, 50);
  const threads = positive('threads', values.threads ?? env.BENCH_THREADS, 2);
  if (threads > connections) throw new Error('--threads must not exceed --connections');
  const ratio = values['trace-ratio'] ?? env.BENCH_TRACE_RATIO;
  const traceRatio = ratio === undefined || ratio === '' ? undefined : Number(ratio);
  if (traceRatio !== undefined && !(traceRatio >= 0 && traceRatio <= 1))
    throw new Error(`--trace-ratio must be a number from 0 to 1, got "${ratio}"`);
  return {
    traceRatio,
    durationS: positive('duration', values.duration ?? env.BENCH_DURATION, 10),
    warmupS: positive('warmup', values.warmup ?? env.BENCH_WARMUP, 3, 0),
    connections,
    threads,
    rounds: positive('rounds', values.rounds ?? env.BENCH_ROUNDS, 1),
    idleMs: positive('idle', values.idle ?? env.BENCH_IDLE_MS, 2000, 0),
    profileDir: values.profile ?? env.BENCH_PROFILE_DIR,
    berthNodeArgs: nodeArgsOption(values['berth-node-args'] ?? env.BENCH_BERTH_NODE_ARGS),
    memoryTrace: values['memory-trace'] ?? env.BENCH_MEMORY_TRACE === '1',
    write: values.write ?? env.BENCH_WRITE === '1',
    targets: targets.filter((t) => wanted.includes(t.id)),
  };
}

/** `--berth-node-args="--max-semi-space-size=16 --trace-gc"`: flags only (no file to run). */
function nodeArgsOption(value: string | undefined): readonly string[] {
  if (value === undefined) return berthNodeArgs;
  const flags = value.split(/\s+/).filter((flag) => flag !== '');
  const notFlag = flags.find((flag) => !flag.startsWith('-'));
  if (notFlag !== undefined)
    throw new Error(`--berth-node-args takes Node flags only, got "${notFlag}" in "${value}"`);
  return flags;
}

/** One measured wrk run, with the CPU time each server process spent per request (µs). */
type Run = WrkResult & { readonly cpuUs: readonly number[] };

const sum = (values: readonly number[]): number => values.reduce((total, n) => total + n, 0);

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Samples per process label over the rounds; the median is reported. */
class PerProcess {
  readonly #samples = new Map<string, number[]>();

  add(label: string, value: number): void {
    this.#samples.set(label, [...(this.#samples.get(label) ?? []), value]);
  }

  median(label: string): number | undefined {
    const samples = this.#samples.get(label);
    return samples === undefined ? undefined : median(samples);
  }

  get labels(): string[] {
    return [...this.#samples.keys()];
  }
}

async function main(): Promise<void> {
  const opts = options();
  assertWrkInstalled();
  const facts = machineFacts();
  const profileArgs = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [];
  const memoryTraceDir = opts.memoryTrace ? await mkdtemp(join(tmpdir(), 'berth-bench-memory-')) : undefined;
  const launch = new Launcher({ berthNodeArgs: [...opts.berthNodeArgs, ...profileArgs], memoryTraceDir });
  const began = performance.now();
  process.stdout.write(
    `bench:gateway on ${facts.nproc} cores, node ${facts.node}, load ${facts.loadAverage}; ` +
      `wrk -t${opts.threads} -c${opts.connections}, ${opts.warmupS}s warm-up + ${opts.durationS}s per target, ` +
      `${opts.rounds} round(s); berth's Node flags: ${opts.berthNodeArgs.join(' ') || '(none)'}\n`,
  );
  const runs = new Map<TargetId, Run[]>();
  const labels = new Map<TargetId, string[]>();
  // Per round; the median is reported, like req/s. With one round it is a cold
  // start: Node's compile cache is still empty and its TypeScript stripper (~18 MB) counts.
  const idleRss = new PerProcess();
  // VmHWM at the end of the measured window: start, idle, warm-up and load all count.
  const peakRss = new PerProcess();
  const cpuUsPerProcess = new PerProcess();
  // Over several rounds, the round with the highest peak.
  const atPeak = new Map<string, MemoryAtPeak>();
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const target of opts.targets) {
        try {
          const started = await target.start(launch, opts);
          await answersCorrectly(started, listenMs);
          await new Promise((done) => setTimeout(done, opts.idleMs));
          const key = (server: ServerProcess) => `(${target.id}) ${server.label}`;
          for (const server of started.processes) idleRss.add(key(server), server.rssMb());
          const load = { ...started, connections: opts.connections, threads: opts.threads };
          if (opts.warmupS > 0) await runWrk({ ...load, durationS: opts.warmupS });
          const cpuBefore = started.processes.map((server) => server.cpuMs());
          const measured = await runWrk({ ...load, durationS: opts.durationS });
          const cpuUs = started.processes.map(
            (server, i) => ((server.cpuMs() - cpuBefore[i]) * 1000) / Math.max(1, measured.requests),
          );
          started.processes.forEach((server, i) => {
            peakRss.add(key(server), server.peakRssMb());
            cpuUsPerProcess.add(key(server), cpuUs[i]);
          });
          const result: Run = { ...measured, cpuUs };
          labels.set(
            target.id,
            started.processes.map((server) => server.label),
          );
          runs.set(target.id, [...(runs.get(target.id) ?? []), result]);
          process.stdout.write(
            `  round ${round} (${target.id}) ${target.title}: ${Math.round(result.requestsPerSec)} req/s, ` +
              `p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ` +
              `CPU ${Math.round(sum(cpuUs))} µs/req, peak RSS ` +
              started.processes.map((server) => `${server.peakRssMb().toFixed(1)}`).join(' + ') +
              ' MB' +
              (result.errors > 0 ? `, ${result.errors} errors` : '') +
              '\n',
          );
          if (memoryTraceDir !== undefined) {
            for (const server of started.processes) {
              const peak = memoryAtPeak(memoryTraceDir, key(server), server.pid);
              const before = atPeak.get(key(server));
              if (peak && (before === undefined || peak.rssMb > before.rssMb)) atPeak.set(key(server), peak);
            }
          }
        } finally {
          // Every process this target started, also those of a target that failed to start.
          await stopAll();
          await removeRegistryDirs();
        }
      }
    }
  } finally {
    if (memoryTraceDir !== undefined) await rm(memoryTraceDir, { recursive: true, force: true });
  }
  const measurements: Measurement[] = opts.targets.map((target) => {
    const results = runs.get(target.id)!;
    return {
      id: target.id,
      title: target.title,
      requestsPerSec: median(results.map((r) => r.requestsPerSec)),
      p50Ms: median(results.map((r) => r.p50Ms)),
      p99Ms: median(results.map((r) => r.p99Ms)),
      errors: results.reduce((total, r) => total + r.errors, 0),
      cpu: labels.get(target.id)!.map((label, i) => ({ label, us: median(results.map((r) => r.cpuUs[i])) })),
    };
  });
  const processes: ProcessMemory[] = idleRss.labels.map((label) => ({
    label,
    idleMb: idleRss.median(label)!,
    peakMb: peakRss.median(label),
    cpuUs: cpuUsPerProcess.median(label),
  }));
  const report = renderReport({
    facts,
    settings: opts,
    measurements,
    processes,
    atPeak: [...atPeak.values()],
  });
  process.stdout.write(`\n${report}\n\n(${((performance.now() - began) / 1000).toFixed(0)} s)\n`);
  if (opts.write) {
    const path = await writeResultsSection('gateway', report);
    process.stdout.write(`written to ${path}\n`);
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    killWrk();
    process.exit(130);
  });
}
try {
  await main();
} catch (error) {
  killAll();
  killWrk();
  process.stderr.write(`bench:gateway failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
