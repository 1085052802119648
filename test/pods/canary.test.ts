/**
 * Canary with an error-rate gate, on real pods: shippy deployed onto the real
 * node (staging overlay, vessel ×2), then under a steady load of
 * VesselService.FindAvailable through the gateway,
 *  (a) a canary of vessel whose code fails every other FindAvailable with
 *      Internal is aborted by `berth canary --analysis` itself (exit 1), and the
 *      stable vessel serves alone again;
 *  (b) a healthy canary (vessel's own code under a new tag) is promoted by it.
 * Both measure the split the gateway's client-side weighting gives (--weight 30)
 * from the pods' own counters, which is what the gate reads too.
 *
 * One namespace, in order: each test starts from the state the previous one leaves.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { build } from 'vite';
import type { KubeClient } from '../../src/kube/kube-client.ts';
import { canaryWeightAnnotation } from '../../src/kube/object-meta.ts';
import {
  berth,
  type CliResult,
  copyShippy,
  deleteNamespaceAtEnd,
  provideVolumes,
  type ShippyCopy,
  shippyClaims,
  show,
  type TestCluster,
  testCluster,
  uniqueName,
} from '../kube/cluster.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { startLoad } from '../support/load.ts';
import { repoRoot } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';
import { realNode } from './node.ts';

const cleanup = fileCleanup();
const namespace = uniqueName('canary-pods');
const runId = randomBytes(3).toString('hex');
let cluster: TestCluster;
let client: KubeClient;
let shippy: ShippyCopy;
let gateway: string;

const buildTimeoutMs = 40 * 60_000;
const deployTimeoutMs = 10 * 60_000;
const vesselSource = join(repoRoot, 'examples/shippy/vessel');
/** Beside vessel, so its relative imports (../gen, ../../../src) resolve as vessel's do. */
const faultySource = join(repoRoot, `examples/shippy/vessel-faulty-${runId}`);

before(async () => {
  cluster = await testCluster();
  client = await cluster.connect();
  cleanup(() => client.close());
  assert.ok(realNode(cluster), 'the pods suite needs the real node: BERTH_K8S_REAL_NODE=1 tools/k8s/up.sh');
  deleteNamespaceAtEnd(client, namespace, cleanup);
  await provideVolumes(client, namespace, shippyClaims, { 'data-postgres-0': 999, 'data-nats-0': 1000 });
  await build({ root: join(repoRoot, 'examples/shippy/ui'), logLevel: 'warn' });
  shippy = copyShippy({ namespace, registry: 'registry.test/shippy', from: 'staging' }, cleanup);
  shippy.edit((system) => {
    system.resources = {
      ...(system.resources as object),
      postgres: { image: 'localhost/berth-test/postgres:15-bookworm' },
      nats: { image: 'localhost/berth-test/nats:2.10.22' },
    };
  });
});

const target = () => ['-f', shippy.dir, '--env', 'test'];

async function vesselPods(): Promise<V1Pod[]> {
  const pods = await client.list<V1Pod>('v1', 'Pod', namespace, 'app.kubernetes.io/name=vessel');
  return pods.items.filter((pod) => !pod.metadata?.deletionTimestamp);
}

async function vesselVersion(): Promise<string | undefined> {
  const vessel = await client.get<V1Deployment>('apps/v1', 'Deployment', namespace, 'vessel');
  return vessel?.metadata?.labels?.['app.kubernetes.io/version'];
}

/** FindAvailable through the gateway, two at a time, as long as the canary runs. */
function findAvailableLoad() {
  return startLoad({
    url: `${gateway}/rpc`,
    body: JSON.stringify({
      service: 'vessel',
      method: 'VesselService.FindAvailable',
      request: { capacity: 1, max_weight: 1 },
    }),
    concurrency: 2,
    maxDurationMs: 10 * 60_000,
  });
}

/** The measured split in the command's output: the canary's share of requests, in percent. */
function splitOf(result: CliResult): number {
  const share = /the canary served ([\d.]+)% of requests/.exec(result.stdout)?.[1];
  assert.ok(share !== undefined, `a measured split in:\n${show(result)}`);
  return Number(share);
}

async function assertCanaryGone(): Promise<void> {
  assert.ok(!(await client.get('apps/v1', 'Deployment', namespace, 'vessel-canary')), 'no vessel-canary');
  const service = await client.get<V1Service>('v1', 'Service', namespace, 'vessel');
  assert.equal(service?.metadata?.annotations?.[canaryWeightAnnotation], undefined, 'no canary weight left');
  await waitFor(
    async () => (await vesselPods()).every((pod) => pod.metadata?.labels?.['berth.dev/track'] !== 'canary'),
    { timeoutMs: 120_000, intervalMs: 500, what: 'every canary pod gone' },
  );
}

test('shippy is built, loaded and deployed on the real node', async () => {
  const built = await berth(cluster, ['build', ...target(), '--load'], buildTimeoutMs);
  assert.equal(built.code, 0, show(built));
  const deployed = await berth(cluster, ['deploy', ...target(), '--timeout', '540'], deployTimeoutMs);
  assert.equal(deployed.code, 0, show(deployed));
  const status = await berth(cluster, ['status', ...target()]);
  assert.equal(status.code, 0, show(status));
  gateway = /(http:\/\/[\d.]+:\d+)/.exec(status.stdout)?.[1] ?? '';
  assert.ok(gateway, `a URL in:\n${status.stdout}`);
  assert.equal((await fetch(`${gateway}/healthz`)).status, 200);
});

test('a canary that fails every other FindAvailable is aborted by the error-rate gate', async () => {
  const stableVersion = await vesselVersion();
  cpSync(vesselSource, faultySource, { recursive: true });
  cleanup(() => rmSync(faultySource, { recursive: true, force: true }));
  const handlers = join(faultySource, 'handlers.ts');
  const original = readFileSync(handlers, 'utf8');
  const patched = original
    .replace(
      'export function vesselHandlers(',
      'let findAvailableCalls = 0;\n\nexport function vesselHandlers(',
    )
    .replace(
      '    async findAvailable(spec) {\n',
      "    async findAvailable(spec) {\n      findAvailableCalls += 1;\n      if (findAvailableCalls % 2 === 0) fail(Code.Internal, 'faulty canary: every other FindAvailable fails');\n",
    );
  assert.notEqual(patched, original, 'handlers.ts patched');
  assert.match(patched, /findAvailableCalls % 2/);
  writeFileSync(handlers, patched);
  // shippy's settings find a service's configs/ by its folder's name: the copy's own.
  const service = join(faultySource, 'service.ts');
  const serviceSource = readFileSync(service, 'utf8');
  assert.match(serviceSource, /loadServiceConfig\('vessel',/);
  writeFileSync(
    service,
    serviceSource.replace("loadServiceConfig('vessel',", `loadServiceConfig('vessel-faulty-${runId}',`),
  );
  shippy.edit((system) => {
    system.services.vessel = { ...system.services.vessel, path: faultySource };
  });
  try {
    const built = await berth(cluster, ['build', 'vessel', ...target(), '--load'], buildTimeoutMs);
    assert.equal(built.code, 0, show(built));
    const load = findAvailableLoad();
    await load.answered(20);
    const canary = await berth(
      cluster,
      ['canary', 'vessel', ...target(), '--weight', '30', '--analysis', '20', '--timeout', '300'],
      deployTimeoutMs,
    );
    await load.stop();
    const failed = load.failures().length;
    process.stdout.write(
      `# faulty canary: exit ${canary.code}; ${failed} of ${load.outcomes.length} requests failed through the gateway\n${canary.stdout
        .split('\n')
        .map((line) => `#   ${line}`)
        .join('\n')}\n`,
    );
    assert.equal(canary.code, 1, show(canary));
    assert.match(canary.stdout, /above --max-error-rate/, show(canary));
    assert.match(canary.stdout, /canary aborted/, show(canary));
    const split = splitOf(canary);
    assert.ok(split >= 15 && split <= 45, `the canary served ${split}% of requests, weight 30`);
    assert.ok(failed > 0, 'the faulty canary did fail some requests');
  } finally {
    shippy.edit((system) => {
      system.services.vessel = { ...system.services.vessel, path: vesselSource };
    });
  }
  await assertCanaryGone();
  assert.equal(await vesselVersion(), stableVersion, 'the stable vessel is unchanged');
  const versions = new Set(
    (await vesselPods()).map((pod) => pod.metadata?.labels?.['app.kubernetes.io/version']),
  );
  assert.deepEqual([...versions], [stableVersion], 'only the stable release serves');
});

test('a healthy canary is promoted by the error-rate gate', async () => {
  const tag = `canary-${runId}`;
  const built = await berth(
    cluster,
    ['build', 'vessel', ...target(), '--tag', `vessel=${tag}`, '--load'],
    buildTimeoutMs,
  );
  assert.equal(built.code, 0, show(built));
  const load = findAvailableLoad();
  await load.answered(20);
  const canary = await berth(
    cluster,
    [
      'canary',
      'vessel',
      ...target(),
      '--tag',
      `vessel=${tag}`,
      '--weight',
      '30',
      '--analysis',
      '20',
      '--timeout',
      '300',
    ],
    deployTimeoutMs,
  );
  await load.stop();
  const failed = load.failures();
  process.stdout.write(
    `# healthy canary: exit ${canary.code}; ${failed.length} of ${load.outcomes.length} requests failed through the gateway\n${canary.stdout
      .split('\n')
      .map((line) => `#   ${line}`)
      .join('\n')}\n`,
  );
  assert.equal(canary.code, 0, show(canary));
  assert.match(canary.stdout, /promoting/, show(canary));
  const split = splitOf(canary);
  assert.ok(split >= 15 && split <= 45, `the canary served ${split}% of requests, weight 30`);
  assert.equal(await vesselVersion(), tag, 'vessel now runs the canary release');
  await assertCanaryGone();
  assert.equal(
    failed.length,
    0,
    failed
      .slice(0, 5)
      .map((f) => `${f.status} ${f.body.slice(0, 200)}`)
      .join('\n'),
  );
});
