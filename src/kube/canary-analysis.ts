/**
 * The canary's error-rate gate: berth reads the `/metrics` of every canary and
 * stable pod itself, through the API server's pod proxy
 * (`GET /api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/metrics`), at the start
 * and the end of an analysis window, and compares each group's server-side
 * failures over the window. No Prometheus, no service mesh: the counters are the
 * ones every berth process keeps (`berth_rpc_requests_total{service, method, code}`,
 * src/metrics/metrics.ts), and a pod that restarted in the window (its counter
 * went down) counts from zero.
 *
 * Errors are the codes that say the server failed — internal, unknown,
 * unavailable, data_loss, deadline_exceeded — not the caller's mistakes
 * (invalid_argument, not_found, unauthenticated…), which a new release does not cause.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { SystemFile } from '../config/system-file.ts';
import type { KubeClient } from './kube-client.ts';
import { labelSelector, selectorFor } from './object-meta.ts';

/** Connect code names (the `code` label) that count as server-side failures. */
export const serverErrorCodes: ReadonlySet<string> = new Set([
  'internal',
  'unknown',
  'unavailable',
  'data_loss',
  'deadline_exceeded',
]);

export const requestsMetric = 'berth_rpc_requests_total';

export interface Counts {
  readonly requests: number;
  readonly errors: number;
}

/** `a="x",b="y\"z"` → `{ a: 'x', b: 'y"z' }` (Prometheus text format escapes). */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pattern = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;
  for (const match of text.matchAll(pattern)) {
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/**
 * Requests and server errors of `service` in one `/metrics` answer (Prometheus
 * text): the sum of `berth_rpc_requests_total` over its methods and codes.
 */
export function countsFromMetrics(text: string, service: string): Counts {
  let requests = 0;
  let errors = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(requestsMetric)) continue;
    const rest = line.slice(requestsMetric.length);
    let labels: Record<string, string> = {};
    let valueText = rest;
    if (rest.startsWith('{')) {
      const close = rest.lastIndexOf('}');
      if (close < 0) continue;
      labels = parseLabels(rest.slice(1, close));
      valueText = rest.slice(close + 1);
    } else if (!rest.startsWith(' ')) continue; // another metric with this prefix
    const value = Number(valueText.trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    if (labels.service !== undefined && labels.service !== service) continue;
    requests += value;
    if (serverErrorCodes.has(labels.code ?? '')) errors += value;
  }
  return { requests, errors };
}

/** What a pod counted between two readings; a counter that went down means the pod restarted. */
export function podDelta(start: Counts | undefined, end: Counts): Counts {
  if (!start || end.requests < start.requests || end.errors < start.errors) return end;
  return { requests: end.requests - start.requests, errors: end.errors - start.errors };
}

/** Sum of the deltas of the pods read at the end (pods gone by then are left out). */
export function groupDelta(start: ReadonlyMap<string, Counts>, end: ReadonlyMap<string, Counts>): Counts {
  let requests = 0;
  let errors = 0;
  for (const [pod, counts] of end) {
    const delta = podDelta(start.get(pod), counts);
    requests += delta.requests;
    errors += delta.errors;
  }
  return { requests, errors };
}

/** Errors per request in percent; 0 with no requests. */
export function errorRate(counts: Counts): number {
  return counts.requests === 0 ? 0 : (100 * counts.errors) / counts.requests;
}

export interface GateOptions {
  /** Highest canary error rate still promoted, in percent. */
  readonly maxErrorRate: number;
  /** Fewer requests than this at the canary: no judgement. */
  readonly minRequests: number;
}

export interface GateResult {
  readonly canary: Counts;
  readonly stable: Counts;
  /** Share of the window's requests the canary served, in percent. */
  readonly canaryShare: number;
  readonly verdict: 'promote' | 'abort' | 'inconclusive';
  readonly reason: string;
}

const percent = (value: number) => `${value.toFixed(1)}%`;

export function describeCounts(counts: Counts): string {
  return `${counts.requests} requests, ${counts.errors} errors (${percent(errorRate(counts))})`;
}

/** The decision for a window's counts. */
export function judge(canary: Counts, stable: Counts, options: GateOptions): GateResult {
  const total = canary.requests + stable.requests;
  const canaryShare = total === 0 ? 0 : (100 * canary.requests) / total;
  const base = { canary, stable, canaryShare };
  if (canary.requests < options.minRequests) {
    return {
      ...base,
      verdict: 'inconclusive',
      reason: `not enough traffic to judge: the canary served ${canary.requests} requests, fewer than --min-requests ${options.minRequests}`,
    };
  }
  const rate = errorRate(canary);
  if (rate > options.maxErrorRate) {
    return {
      ...base,
      verdict: 'abort',
      reason: `canary error rate ${percent(rate)} is above --max-error-rate ${percent(options.maxErrorRate)} (stable: ${percent(errorRate(stable))})`,
    };
  }
  return {
    ...base,
    verdict: 'promote',
    reason: `canary error rate ${percent(rate)} is at or below --max-error-rate ${percent(options.maxErrorRate)} (stable: ${percent(errorRate(stable))})`,
  };
}

export interface Reading {
  readonly canary: Map<string, Counts>;
  readonly stable: Map<string, Counts>;
  /** Pods whose metrics could not be read, with why. */
  readonly unreadable: string[];
}

/**
 * The port a pod serves `/metrics` on: its container port named `ops` (berth's
 * pods: 9090), else — pods rendered before the ops port — its first port.
 * Exported for tests.
 */
export function metricsPort(pod: V1Pod): number {
  const ports = pod.spec?.containers[0]?.ports ?? [];
  return (ports.find((port) => port.name === 'ops') ?? ports[0])?.containerPort ?? 8080;
}

/** Counts of every running pod of `name` (canary and stable), read through the API server's pod proxy. */
export async function readGroups(client: KubeClient, system: SystemFile, name: string): Promise<Reading> {
  const pods = await client.list<V1Pod>(
    'v1',
    'Pod',
    system.namespace,
    labelSelector(selectorFor(system, name)),
  );
  const reading: Reading = { canary: new Map(), stable: new Map(), unreadable: [] };
  await Promise.all(
    pods.items
      .filter((pod) => pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp)
      .map(async (pod) => {
        const podName = pod.metadata!.name!;
        const path = `${client.path('v1', 'Pod', system.namespace, podName)}:${metricsPort(pod)}/proxy/metrics`;
        try {
          const counts = countsFromMetrics(await client.requestText('GET', path), name);
          const canary = pod.metadata?.labels?.['berth.dev/track'] === 'canary';
          (canary ? reading.canary : reading.stable).set(podName, counts);
        } catch (error) {
          reading.unreadable.push(`${podName}: ${(error as Error).message}`);
        }
      }),
  );
  return reading;
}

export interface AnalysisOptions extends GateOptions {
  readonly seconds: number;
  /** How often to print how the window goes. */
  readonly intervalMs?: number;
  readonly onProgress?: (elapsedSeconds: number, canary: Counts, stable: Counts) => void;
  readonly signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** Reads the counters, waits the window out (printing progress), reads them again and judges. */
export async function analyzeCanary(
  client: KubeClient,
  system: SystemFile,
  name: string,
  options: AnalysisOptions,
): Promise<GateResult & { unreadable: string[] }> {
  const start = await readGroups(client, system, name);
  const started = Date.now();
  const endAt = started + options.seconds * 1000;
  const interval = options.intervalMs ?? 5000;
  let end = start;
  while (Date.now() < endAt && !options.signal?.aborted) {
    await sleep(Math.min(interval, endAt - Date.now()), options.signal);
    end = await readGroups(client, system, name);
    options.onProgress?.(
      Math.round((Date.now() - started) / 1000),
      groupDelta(start.canary, end.canary),
      groupDelta(start.stable, end.stable),
    );
  }
  const result = judge(groupDelta(start.canary, end.canary), groupDelta(start.stable, end.stable), options);
  return { ...result, unreadable: [...new Set([...start.unreadable, ...end.unreadable])] };
}
