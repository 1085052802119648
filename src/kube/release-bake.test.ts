/**
 * The bake's decisions on fixture objects and a fake metrics source. The
 * error-rate part runs only here: KWOK pods have no containers to serve
 * /metrics (test/kube/bake.test.ts covers restarts and readiness on the cluster).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { parseSystemFile } from '../config/system-file.ts';
import type { Counts, Reading } from './canary-analysis.ts';
import type { KubeClient } from './kube-client.ts';
import type { Progress } from './progress.ts';
import { bakeRelease, bakeSecondsOf, ErrorRateWatch, PodWatch } from './release-bake.ts';

const image = 'shippy-vessel:r2';
const now = Date.parse('2026-12-03T12:00:00Z');

function deployment(replicas = 1): V1Deployment {
  return {
    metadata: { name: 'vessel' },
    spec: {
      replicas,
      selector: { matchLabels: {} },
      template: { spec: { containers: [{ name: 'vessel', image }] } },
    },
  };
}

function pod(
  name: string,
  container: Partial<V1ContainerStatus> = {},
  ready = true,
  podImage = image,
): V1Pod {
  return {
    metadata: { name, uid: `uid-${name}` },
    spec: { containers: [{ name: 'vessel', image: podImage }] },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        ready
          ? { type: 'Ready', status: 'True' }
          : { type: 'Ready', status: 'False', message: 'containers with unready status: [vessel]' },
      ],
      containerStatuses: [
        { name: 'vessel', image: podImage, imageID: '', ready, restartCount: 0, ...container },
      ],
    },
  };
}

const crashed = (restartCount: number) => ({
  restartCount,
  lastState: { terminated: { exitCode: 1, reason: 'Error' } },
});

test('restarts before the bake are the rollout’s; one during the bake degrades the release', () => {
  const watch = new PodWatch();
  assert.equal(watch.observe(deployment(), [pod('vessel-1', crashed(2))], now), undefined);
  assert.equal(watch.observe(deployment(), [pod('vessel-1', crashed(2))], now), undefined);
  assert.equal(
    watch.observe(deployment(), [pod('vessel-1', crashed(3))], now),
    'pod vessel-1 restarted during the bake (Error; 1 time)',
  );
});

test('a pod that goes not ready during the bake degrades the release, naming the cause', () => {
  const watch = new PodWatch();
  assert.equal(watch.observe(deployment(), [pod('vessel-1')], now), undefined);
  assert.equal(
    watch.observe(deployment(), [pod('vessel-1', {}, false)], now),
    'pod vessel-1 is not ready: containers with unready status: [vessel]',
  );
});

test('a replacement pod counts its restarts from zero; pods of the old template are not judged', () => {
  const watch = new PodWatch();
  const old = pod('vessel-old', crashed(7), false, 'shippy-vessel:r1');
  assert.equal(watch.observe(deployment(), [pod('vessel-1'), old], now), undefined);
  assert.match(
    watch.observe(deployment(), [pod('vessel-2', crashed(1)), old], now) ?? '',
    /^pod vessel-2 restarted during the bake/,
  );
});

test('fewer ready pods of the new release than wanted degrade it', () => {
  assert.equal(
    new PodWatch().observe(deployment(2), [pod('vessel-1')], now),
    'only 1/2 pods of the new release are ready',
  );
});

/** A reading of one pod's counters, as readGroups returns it. */
const reading = (counts: Counts | undefined): Reading => ({
  canary: new Map(),
  stable: counts ? new Map([['vessel-1', counts]]) : new Map(),
  unreadable: counts ? [] : ['vessel-1: connection refused'],
});

/** An ErrorRateWatch over `readings`, one per poll, each settled before the next. */
async function watchOver(...readings: Reading[]): Promise<ErrorRateWatch> {
  const pending = [...readings];
  const watch = new ErrorRateWatch(async () => pending.shift()!, 0);
  for (let i = 0; i < readings.length; i++) {
    watch.poll(i);
    await watch.settled();
  }
  return watch;
}

const gate = { maxErrorRate: 5, minRequests: 20 };

test('a server error rate above the gate over the bake degrades the release', async () => {
  // Before the bake: 1000 requests, 1 error; during it: 100 more, 10 of them errors.
  const watch = await watchOver(
    reading({ requests: 1000, errors: 1 }),
    reading({ requests: 1100, errors: 11 }),
  );
  assert.deepEqual(watch.counts(), { requests: 100, errors: 10 });
  assert.equal(watch.problem(gate), 'error rate above 5%: 100 requests, 10 errors (10.0%)');
  assert.equal(watch.problem({ ...gate, maxErrorRate: 10 }), undefined);
});

test('too few requests, or no metrics at all, is no judgement', async () => {
  const quiet = await watchOver(reading({ requests: 0, errors: 0 }), reading({ requests: 10, errors: 10 }));
  assert.equal(quiet.problem(gate), undefined);
  const unread = await watchOver(reading(undefined), reading(undefined));
  assert.equal(unread.counts(), undefined);
  assert.equal(unread.problem(gate), undefined);
  assert.equal(unread.summary(), 'error rate: no metrics');
  assert.deepEqual(unread.unreadable(), ['vessel-1: connection refused']);
});

test('a pod that restarted in the bake counts from zero (its counters went down)', async () => {
  const watch = await watchOver(reading({ requests: 1000, errors: 0 }), reading({ requests: 40, errors: 4 }));
  assert.deepEqual(watch.counts(), { requests: 40, errors: 4 });
  assert.match(watch.problem(gate) ?? '', /^error rate above 5%: 40 requests, 4 errors/);
});

const system = parseSystemFile(
  `
system: shippy
rollout: { bakeSeconds: 60 }
services:
  vessel: { rollout: { bakeSeconds: 300 } }
  user: {}
  consignment: { rollout: { restartLimit: 5 } }
`,
  { file: '/x/berth.yaml' },
);

test('each service bakes for its own rollout.bakeSeconds, the system’s, or --bake', () => {
  assert.equal(bakeSecondsOf(system, 'vessel', undefined), 300);
  assert.equal(bakeSecondsOf(system, 'user', undefined), 60);
  assert.equal(bakeSecondsOf(system, 'consignment', undefined), 60);
  assert.equal(bakeSecondsOf(system, 'vessel', 0), 0);
  assert.equal(
    parseSystemFile('system: s\nservices: { a: {} }\n', { file: '/x/berth.yaml' }).rollout.bakeSeconds,
    0,
  );
});

const silent: Progress = { update() {}, note() {}, end() {} };

/** A cluster of one ready vessel pod whose /metrics answers from `metrics`, one answer per read. */
function fakeClient(metrics: string[]): KubeClient {
  return {
    get: async () => deployment(),
    list: async () => ({ items: [pod('vessel-1')] }),
    path: (_apiVersion: string, _kind: string, namespace: string, name: string) =>
      `/api/v1/namespaces/${namespace}/pods/${name}`,
    // The last answer stays: the counters stop moving.
    requestText: async () => (metrics.length > 1 ? metrics.shift()! : (metrics[0] ?? '')),
  } as unknown as KubeClient;
}

const counter = (code: string, value: number) =>
  `berth_rpc_requests_total{service="vessel",method="Get",code="${code}"} ${value}`;

test('a bake whose error rate climbs rolls back with the reason; a healthy one passes', async () => {
  const failing = fakeClient([counter('ok', 100), `${counter('ok', 150)}\n${counter('internal', 30)}`]);
  const options = {
    system,
    progress: silent,
    services: ['vessel'],
    seconds: 1,
    pollMs: 5,
    metricsIntervalMs: 0,
  };
  const degraded = await bakeRelease({ ...options, client: failing });
  assert.deepEqual(
    [...degraded.failures],
    [['vessel', 'error rate above 5%: 80 requests, 30 errors (37.5%)']],
  );
  assert.equal(degraded.bake.services[0]?.result, 'degraded');

  const healthy = await bakeRelease({
    ...options,
    client: fakeClient([counter('ok', 100), counter('ok', 200)]),
  });
  assert.deepEqual([...healthy.failures], []);
  assert.deepEqual(healthy.bake.services, [
    {
      name: 'vessel',
      seconds: 1,
      result: 'healthy',
      reason: 'healthy for 1 s; error rate: 100 requests, 0 errors (0.0%)',
      requests: { requests: 100, errors: 0 },
    },
  ]);
});

test('a bake stopped by the signal (Ctrl-C) is a failure: interrupted', async () => {
  const stop = new AbortController();
  stop.abort();
  const result = await bakeRelease({
    client: fakeClient([]),
    system,
    progress: silent,
    services: ['vessel'],
    signal: stop.signal,
  });
  assert.deepEqual([...result.failures], [['vessel', 'interrupted']]);
});

test('nothing to bake (no changed service, or 0 s) is no bake', async () => {
  const result = await bakeRelease({
    client: fakeClient([]),
    system,
    progress: silent,
    services: ['vessel'],
    seconds: 0,
  });
  assert.deepEqual(result, { bake: { seconds: 0, services: [] }, failures: new Map() });
});
