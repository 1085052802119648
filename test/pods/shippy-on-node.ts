/**
 * What every real-pods suite starts from: a copy of shippy's berth.yaml (staging
 * overlay) in a namespace of its own on the test cluster's real node, with the
 * volumes its StatefulSets claim, the stand-in images for PostgreSQL and NATS,
 * and its web UI built; then, once deployed, the gateway URL `berth status` gives.
 * Every image is pinned to the run's tag: content tags would change whenever
 * anyone edits src/ while a suite runs, naming images that were never built.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { build } from 'vite';
import type { KubeClient } from '../../src/kube/kube-client.ts';
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
import type { Cleanup } from '../support/cleanup.ts';
import { repoRoot } from '../support/processes.ts';
import { type RealNode, realNode } from './node.ts';

/** Image builds and first rollouts on two cores: generous bounds, never a wait. */
export const buildTimeoutMs = 40 * 60_000;
export const deployTimeoutMs = 10 * 60_000;

export interface ShippyOnNode {
  readonly cluster: TestCluster;
  readonly client: KubeClient;
  readonly node: RealNode;
  readonly namespace: string;
  readonly shippy: ShippyCopy;
  /** Random per run: names, emails and image tags of this run. */
  readonly runId: string;
  /** `-f <copy> --env test --tag r1-<runId>`, then each `[name=]tag` given as `--tag`. */
  release(...tags: string[]): string[];
}

/** Everything but the deploy, for a suite's `before`; what it made is removed at `cleanup`. */
export async function shippyOnNode(prefix: string, cleanup: Cleanup): Promise<ShippyOnNode> {
  const cluster = await testCluster();
  const client = await cluster.connect();
  cleanup(() => client.close());
  const node = realNode(cluster);
  assert.ok(node, 'the pods suites need the real node: BERTH_K8S_REAL_NODE=1 tools/k8s/up.sh');
  const namespace = uniqueName(prefix);
  deleteNamespaceAtEnd(client, namespace, cleanup);
  // The stand-ins run as the official images' users: postgres 999, nats 1000.
  await provideVolumes(client, namespace, shippyClaims, { 'data-postgres-0': 999, 'data-nats-0': 1000 });
  // The gateway's image carries the web UI this checkout builds to, as a user's would.
  await build({ root: join(repoRoot, 'examples/shippy/ui'), logLevel: 'warn' });
  const shippy = copyShippy({ namespace, registry: 'registry.test/shippy', from: 'staging' }, cleanup);
  shippy.edit((system) => {
    system.resources = {
      ...(system.resources as object),
      postgres: { image: 'localhost/berth-test/postgres:15-bookworm' },
      nats: { image: 'localhost/berth-test/nats:2.10.22' },
    };
  });
  const runId = randomBytes(3).toString('hex');
  return {
    cluster,
    client,
    node,
    namespace,
    shippy,
    runId,
    release: (...tags) => [
      '-f',
      shippy.dir,
      '--env',
      'test',
      '--tag',
      `r1-${runId}`,
      ...tags.flatMap((tag) => ['--tag', tag]),
    ],
  };
}

/** The gateway URL `berth status` prints for the deployed copy, checked to answer. */
export async function gatewayUrl(shippy: ShippyOnNode): Promise<string> {
  const status = await berth(shippy.cluster, ['status', '-f', shippy.shippy.dir, '--env', 'test']);
  assert.equal(status.code, 0, show(status));
  const url = /(http:\/\/[\d.]+:\d+)/.exec(status.stdout)?.[1];
  assert.ok(url, `a URL in:\n${status.stdout}`);
  assert.equal((await fetch(`${url}/healthz`)).status, 200, `${url}/healthz`);
  return url;
}

/** A CLI run's output in the test log, `#`-prefixed as node:test diagnostics are. */
export function printRun(label: string, result: CliResult): void {
  const lines = result.stdout.split('\n').map((line) => `#   ${line}`);
  process.stdout.write(`# ${label}\n${lines.join('\n')}\n`);
}
