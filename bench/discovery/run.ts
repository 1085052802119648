/**
 * `npm run bench:discovery`: how the cost of berth's service discovery grows
 * with the number of instances, for the two registries the gateway can run:
 *
 *   local       LocalRegistry (one file per instance in a shared folder) behind a
 *               RegistryCache; instances registered by a helper process (registrant.ts)
 *   kube        KubeRegistry (EndpointSlice + Service informers) behind a RegistryCache,
 *               against a local control plane with KWOK fake nodes (tools/k8s), the
 *               vessel Deployment scaled through the API
 *   baseline    beside every kube step, one bare client-node informer on the same
 *               EndpointSlices (no Service informer, no instances, no cache), in its own
 *               process: what any client of the API pays, so the rest is berth's
 *
 * Each step starts a fresh follower (follower.ts: a child process, so its CPU and
 * RSS are its own), arms it with the count to wait for, makes the change, and
 * takes the time when the follower reports that it holds exactly that many
 * instances (it says so over IPC; nothing here sleeps to let it converge). Then
 * a short settle, an idle window (CPU per second while nothing changes), and the
 * way back to 0 instances, timed the same way.
 *
 * Options (flag or environment variable):
 *   --registries LIST BENCH_REGISTRIES   local,kube (both)
 *   --local-steps LIST BENCH_LOCAL_STEPS instance counts (10,50,200)
 *   --kube-steps LIST BENCH_KUBE_STEPS   replica counts (10,100,1000)
 *   --idle S          BENCH_IDLE         idle window per step, seconds (40: covers client-node's
 *                                        30 s watch inactivity timeout)
 *   --settle S        BENCH_SETTLE       pause between converging and the idle window (2)
 *   --timeout S       BENCH_TIMEOUT      bound on every wait for convergence (600)
 *   --nodes N         BENCH_K8S_NODES    KWOK nodes (12; each allows 110 pods)
 *   --k8s-state DIR   BENCH_K8S_STATE    control plane state dir (~/.cache/berth-k8s/run-bench;
 *                                        never the default one, which may be someone else's)
 *   --kubeconfig FILE BENCH_KUBECONFIG   use that cluster instead: neither started nor stopped
 *   --keep-cluster    BENCH_KEEP_CLUSTER=1  leave the control plane running (while developing)
 *   --write           BENCH_WRITE=1      write the results into docs/benchmarks.md
 * Quick check: `node bench/discovery/run.ts --local-steps 5,20 --kube-steps 5,20 --idle 3`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineFacts } from '../gateway/report.ts';
import { writeResultsSection } from '../results-section.ts';
import { IpcChild, killAllChildren, stopAllChildren } from './child.ts';
import { BenchNamespace, podsPerNode, startControlPlane, stopControlPlane } from './cluster.ts';
import {
  type FollowerConfig,
  type FromFollower,
  type FromRegistrant,
  hrtimeMs,
  systemName,
  type ToFollower,
  type ToRegistrant,
} from './protocol.ts';
import { type RegistryKind, renderReport, type Step } from './report.ts';

type Follower = IpcChild<ToFollower, FromFollower>;
type Registrant = IpcChild<ToRegistrant, FromRegistrant>;

const startMs = 60_000;

function options() {
  const { values } = parseArgs({
    options: {
      registries: { type: 'string' },
      'local-steps': { type: 'string' },
      'kube-steps': { type: 'string' },
      idle: { type: 'string' },
      settle: { type: 'string' },
      timeout: { type: 'string' },
      nodes: { type: 'string' },
      'k8s-state': { type: 'string' },
      kubeconfig: { type: 'string' },
      'keep-cluster': { type: 'boolean' },
      write: { type: 'boolean' },
    },
  });
  const env = process.env;
  const integer = (name: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
  const counts = (name: string, value: string | undefined, fallback: string): number[] =>
    (value || fallback).split(',').map((part) => integer(name, part.trim(), 0, 1));
  const registries = (values.registries ?? env.BENCH_REGISTRIES ?? 'local,kube')
    .split(',')
    .map((r) => r.trim());
  for (const registry of registries) {
    if (registry !== 'local' && registry !== 'kube')
      throw new Error(`--registries: unknown registry "${registry}" (use local,kube)`);
  }
  return {
    registries,
    localSteps: counts('local-steps', values['local-steps'] ?? env.BENCH_LOCAL_STEPS, '10,50,200'),
    kubeSteps: counts('kube-steps', values['kube-steps'] ?? env.BENCH_KUBE_STEPS, '10,100,1000'),
    idleMs: integer('idle', values.idle ?? env.BENCH_IDLE, 40, 1) * 1000,
    settleMs: integer('settle', values.settle ?? env.BENCH_SETTLE, 2, 0) * 1000,
    timeoutMs: integer('timeout', values.timeout ?? env.BENCH_TIMEOUT, 600, 1) * 1000,
    nodes: integer('nodes', values.nodes ?? env.BENCH_K8S_NODES, 12, 1),
    stateDir: values['k8s-state'] ?? env.BENCH_K8S_STATE ?? join(homedir(), '.cache/berth-k8s/run-bench'),
    kubeconfig: values.kubeconfig ?? env.BENCH_KUBECONFIG,
    keepCluster: values['keep-cluster'] ?? env.BENCH_KEEP_CLUSTER === '1',
    write: values.write ?? env.BENCH_WRITE === '1',
  };
}

type Options = ReturnType<typeof options>;

const log = (line: string) => process.stdout.write(`${line}\n`);
const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Things to undo at the end, last first; also run on an interrupted run. */
const cleanups: Array<() => Promise<unknown>> = [];
async function cleanUp(): Promise<void> {
  await stopAllChildren();
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (error) {
      process.stderr.write(`cleanup failed: ${(error as Error).message}\n`);
    }
  }
}

function startFollower(label: string, config: FollowerConfig): Follower {
  return new IpcChild<ToFollower, FromFollower>(label, 'follower.ts', [JSON.stringify(config)], {});
}

/**
 * Arms every follower with `count`, makes the change, and waits until each holds
 * exactly `count` instances. The time is taken in the follower, on the clock
 * `start` was read from (protocol.ts).
 */
async function converge(
  followers: readonly Follower[],
  count: number,
  change: () => Promise<unknown>,
  timeoutMs: number,
) {
  for (const follower of followers) follower.send({ type: 'expect', count });
  await Promise.all(followers.map((follower) => follower.next('armed', startMs)));
  const start = hrtimeMs();
  const changed = change().then(() => hrtimeMs());
  const reached = await Promise.all(followers.map((follower) => follower.next('reached', timeoutMs)));
  const changedAt = await changed;
  return reached.map((message) => ({ ...message, ms: message.atMs - start, changeMs: changedAt - start }));
}

/** One step for the followers: up to `count` by `up`, settle, idle window, back to 0 by `down`. */
async function step(
  followers: ReadonlyArray<{ readonly registry: RegistryKind; readonly follower: Follower }>,
  count: number,
  up: () => Promise<unknown>,
  down: () => Promise<unknown>,
  opts: Options,
): Promise<Step[]> {
  const synced = await Promise.all(followers.map(({ follower }) => follower.next('synced', startMs)));
  for (const [i, message] of synced.entries()) {
    if (message.count !== 0)
      throw new Error(`${followers[i]!.follower.label} started with ${message.count} instances, not 0`);
  }
  const all = followers.map(({ follower }) => follower);
  const reached = await converge(all, count, up, opts.timeoutMs);
  await pause(opts.settleMs);
  for (const follower of all) follower.send({ type: 'idle', ms: opts.idleMs });
  const idled = await Promise.all(all.map((follower) => follower.next('idled', opts.idleMs + startMs)));
  const drained = await converge(all, 0, down, opts.timeoutMs);
  return followers.map(({ registry }, i) => {
    const r = reached[i]!;
    const idle = idled[i]!.usage;
    const d = drained[i]!;
    return {
      registry,
      instances: count,
      convergeMs: r.ms,
      requestMs: registry === 'local' ? r.changeMs : undefined,
      cpuMs: r.usage.cpuMs,
      events: r.usage.events,
      requests: r.usage.requests,
      servingAll: r.serving === count,
      startRssMb: synced[i]!.usage.rssMb,
      peakRssMb: idle.peakRssMb,
      idle: {
        seconds: opts.idleMs / 1000,
        cpuPercent: (idle.cpuMs / opts.idleMs) * 100,
        events: idle.events,
        requests: idle.requests,
        connections: idle.connections,
        rssMb: idle.rssMb,
      },
      downMs: d.ms,
      downCpuMs: d.usage.cpuMs,
      downEvents: d.usage.events,
    };
  });
}

function describe(s: Step): string {
  return (
    `  ${s.registry} ${s.instances}: converged in ${s.convergeMs.toFixed(0)} ms` +
    (s.requestMs === undefined ? '' : ` (registered in ${s.requestMs.toFixed(0)} ms)`) +
    `, CPU ${s.cpuMs.toFixed(0)} ms, ${s.events} events, ${s.requests} requests, peak RSS ${s.peakRssMb.toFixed(1)} MB; ` +
    `idle ${s.idle.cpuPercent.toFixed(2)}% CPU, ${s.idle.events} events, ${s.idle.requests} requests, ` +
    `RSS ${s.startRssMb.toFixed(1)} MB at start, ${s.idle.rssMb.toFixed(1)} MB at its end; ` +
    `back to 0 in ${s.downMs.toFixed(0)} ms`
  );
}

async function measureLocal(opts: Options): Promise<Step[]> {
  const steps: Step[] = [];
  for (const count of opts.localSteps) {
    const dir = await mkdtemp(join(tmpdir(), 'berth-bench-discovery-'));
    try {
      const registrant: Registrant = new IpcChild('registrant', 'registrant.ts', [dir], {});
      await registrant.next('ready', startMs);
      const follower = startFollower('follower (local)', { mode: 'local', dir });
      const request = async (message: ToRegistrant) => {
        registrant.send(message);
        await registrant.next('done', opts.timeoutMs);
      };
      const [result] = await step(
        [{ registry: 'local', follower }],
        count,
        () => request({ type: 'register', count }),
        () => request({ type: 'deregister' }),
        opts,
      );
      log(describe(result!));
      steps.push(result!);
      await follower.stop();
      await registrant.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return steps;
}

async function measureKube(opts: Options): Promise<Step[]> {
  let kubeconfig = opts.kubeconfig;
  if (!kubeconfig) {
    log(`starting the control plane (${opts.nodes} KWOK nodes, state ${opts.stateDir})…`);
    const startedAt = Date.now();
    // Registered first, so a failed start is cleaned up too (down.sh of a missing dir does nothing).
    if (!opts.keepCluster) cleanups.push(() => stopControlPlane(opts.stateDir));
    kubeconfig = (await startControlPlane(opts.stateDir, opts.nodes)).kubeconfig;
    log(`  up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${kubeconfig}`);
  }
  const namespace = await BenchNamespace.create(kubeconfig);
  cleanups.push(() => namespace.delete());
  const capacity = await namespace.podCapacity();
  const most = Math.max(...opts.kubeSteps);
  if (capacity < most) {
    throw new Error(
      `the nodes allow ${capacity} pods, the largest step needs ${most}: use --nodes ${Math.ceil(most / podsPerNode) + 1}`,
    );
  }
  log(`  namespace ${namespace.name}, room for ${capacity} pods`);
  const config = { kubeconfig, namespace: namespace.name, system: systemName };
  const steps: Step[] = [];
  for (const count of opts.kubeSteps) {
    await namespace.waitForNoPods(opts.timeoutMs);
    const berth = startFollower('follower (kube)', { mode: 'kube', ...config });
    const informer = startFollower('follower (kube-informer)', { mode: 'kube-informer', ...config });
    const results = await step(
      [
        { registry: 'kube', follower: berth },
        { registry: 'kube-informer', follower: informer },
      ],
      count,
      () => namespace.scale(count),
      () => namespace.scale(0),
      opts,
    );
    for (const result of results) {
      log(describe(result));
      steps.push(result);
    }
    await Promise.all([berth.stop(), informer.stop()]);
  }
  return steps;
}

/** A follower started and stopped once, so every measured one starts with Node's compile cache warm. */
async function warmUp(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-discovery-'));
  try {
    const follower = startFollower('follower (warm-up)', { mode: 'local', dir });
    await follower.next('synced', startMs);
    await follower.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const opts = options();
  const facts = machineFacts();
  log(
    `bench:discovery on ${facts.nproc} cores, node ${facts.node}, load ${facts.loadAverage}; ` +
      `local ${opts.registries.includes('local') ? opts.localSteps.join(',') : '–'}, ` +
      `kube ${opts.registries.includes('kube') ? opts.kubeSteps.join(',') : '–'}; idle ${opts.idleMs / 1000} s per step`,
  );
  await warmUp();
  const steps: Step[] = [];
  if (opts.registries.includes('local')) steps.push(...(await measureLocal(opts)));
  if (opts.registries.includes('kube')) steps.push(...(await measureKube(opts)));
  const report = renderReport({
    facts,
    loadAtEnd: loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
    settleS: opts.settleMs / 1000,
    steps,
  });
  log(`\n${report}\n`);
  if (opts.write) log(`written to ${await writeResultsSection('discovery', report)}`);
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    killAllChildren();
    void cleanUp().finally(() => process.exit(130));
  });
}
try {
  await main();
} catch (error) {
  process.stderr.write(`bench:discovery failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
