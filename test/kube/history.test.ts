/**
 * `berth rollout history` and `berth rollout status` against a deployed shippy,
 * in order: nothing recorded yet, a deploy, a never-ready release that rolls
 * itself back, a canary aborted, each a row of the history (table and JSON);
 * then a service's rollout waited for when complete, when failing, and after
 * `rollout undo`. Images are pinned with --tag, as in deploy.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { revisionOf } from '../../src/kube/rollout.ts';
import { berth, shippyNamespace, show } from './cluster.ts';

const registry = 'registry.test/shippy';
const kube = shippyNamespace('berth-history', { volumes: true, copy: { registry } });
const { namespace } = kube;

const vessel = async () =>
  (await kube.client.get<V1Deployment>('apps/v1', 'Deployment', namespace, 'vessel'))!;

/** The table's rows below its header, split into cells (columns are 3 or more spaces apart). */
function tableRows(stdout: string): string[][] {
  const [header, ...rows] = stdout.trimEnd().split('\n');
  assert.match(header!, /^#\s+TIME\s+ENV\s+ACTION\s+OUTCOME\s+TAGS?\s+REVISIONS?$/, stdout);
  return rows.map((row) => row.split(/ {3,}/));
}

test('before any deploy the history says it has none, naming the namespace (exit 0)', async () => {
  const result = await berth(kube.cluster, ['rollout', 'history', ...kube.target()]);
  assert.equal(result.code, 0, show(result));
  assert.equal(
    result.stdout,
    `no release history of shippy in namespace ${namespace}: berth deploy records one (ConfigMap shippy-berth-history)\n`,
  );
  const json = await berth(kube.cluster, ['rollout', 'history', ...kube.target(), '--output', 'json']);
  assert.equal(json.code, 0, show(json));
  assert.deepEqual(JSON.parse(json.stdout), { system: 'shippy', namespace, entries: [] });
});

test('a deploy, a release rolled back and a canary aborted are the rows of the history, oldest first', async () => {
  const first = await berth(kube.cluster, kube.pinnedDeploy());
  assert.equal(first.code, 0, show(first));
  const broken = await berth(kube.cluster, kube.pinnedDeploy('vessel=never-ready-r2'));
  assert.equal(broken.code, 1 /* rolled back */, show(broken));
  const rolledBackTo = revisionOf(await vessel());
  const canary = await berth(kube.cluster, kube.pinnedCanary('vessel', 25, 'r2'));
  assert.equal(canary.code, 0, show(canary));
  const aborted = await berth(kube.cluster, ['canary', 'abort', 'vessel', ...kube.target(), '--tag', 'r1']);
  assert.equal(aborted.code, 0, show(aborted));

  const result = await berth(kube.cluster, ['rollout', 'history', ...kube.target()]);
  assert.equal(result.code, 0, show(result));
  const rows = tableRows(result.stdout);
  for (const [, time] of rows) assert.match(time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(
    rows.map(([number, , ...rest]) => [number, ...rest]),
    [
      ['1', 'test', 'deploy', 'ok', 'r1', '1'],
      ['2', 'test', 'deploy', 'rolled back', 'r1, vessel=never-ready-r2', `1, vessel=${rolledBackTo}`],
      ['3', 'test', 'canary-abort vessel', 'ok', 'r1', `vessel=${rolledBackTo}`],
    ],
    result.stdout,
  );

  const one = await berth(kube.cluster, ['rollout', 'history', ...kube.target(), '--service', 'user']);
  assert.equal(one.code, 0, show(one));
  assert.deepEqual(
    tableRows(one.stdout).map(([number, , , action, outcome, tag, revision]) => [
      number,
      action,
      outcome,
      tag,
      revision,
    ]),
    [
      ['1', 'deploy', 'ok', 'r1', '1'],
      ['2', 'deploy', 'rolled back', 'r1', '1'],
      // The abort recorded vessel's revision only.
      ['3', 'canary-abort vessel', 'ok', 'r1', '-'],
    ],
    one.stdout,
  );

  const json = await berth(kube.cluster, [
    'rollout',
    'history',
    ...kube.target(),
    '--service',
    'vessel',
    '--output',
    'json',
  ]);
  assert.equal(json.code, 0, show(json));
  const document = JSON.parse(json.stdout);
  assert.equal(document.namespace, namespace);
  assert.deepEqual(
    document.entries.map((entry: Record<string, unknown>) => [
      entry.deploy,
      entry.environment,
      entry.action,
      entry.ok,
      entry.outcome,
      entry.tags,
      entry.revisions,
      entry.canary,
    ]),
    [
      [1, 'test', 'deploy', true, 'ok', { vessel: 'r1' }, { vessel: 1 }, undefined],
      [
        2,
        'test',
        'deploy',
        false,
        'rolled back',
        { vessel: 'never-ready-r2' },
        { vessel: rolledBackTo },
        undefined,
      ],
      [
        3,
        'test',
        'canary-abort',
        true,
        'ok',
        { vessel: 'r1' },
        { vessel: rolledBackTo },
        { service: 'vessel', tag: 'r2' },
      ],
    ],
  );
});

test('rollout status of a complete rollout exits 0 and says so', async () => {
  const result = await berth(kube.cluster, ['rollout', 'status', 'vessel', ...kube.target()]);
  assert.equal(result.code, 0, show(result));
  assert.match(result.stdout, /^vessel: rollout complete \(3\/3 ready\)$/m);
});

test('rollout status of a failing rollout exits 1 with the reason; rollout undo then brings the service back', async () => {
  const before = await vessel();
  // As `kubectl set image` would: a rollout no deploy watches.
  await kube.client.jsonPatch('apps/v1', 'Deployment', namespace, 'vessel', [
    {
      op: 'replace',
      path: '/spec/template/spec/containers/0/image',
      value: `${registry}/shippy-vessel:never-ready-r3`,
    },
  ]);
  const failed = await berth(kube.cluster, [
    'rollout',
    'status',
    'vessel',
    ...kube.target(),
    '--timeout',
    '60',
  ]);
  assert.equal(failed.code, 1, show(failed));
  assert.match(failed.stderr, /^vessel: rollout failed: crash loop: pod vessel-\S+: CrashLoopBackOff/m);
  assert.match(failed.stdout, /^vessel: … /m, 'progress while it waited');

  const undone = await berth(kube.cluster, ['rollout', 'undo', 'vessel', ...kube.target()]);
  assert.equal(undone.code, 0, show(undone));
  assert.match(undone.stdout, new RegExp(`^vessel: restoring revision ${revisionOf(before)}$`, 'm'));
  assert.match(undone.stdout, /^vessel: rollout complete \(3\/3 ready\)$/m);
  const after = await vessel();
  assert.equal(after.spec!.template.spec!.containers[0]!.image, `${registry}/shippy-vessel:r1`);
});

test('mistakes are named before any wait: an unknown service, a service given to history, an unknown output', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['status', 'vesel'], /shippy has no service "vesel"; it has: vessel, email, user, consignment, gateway/],
    [['history', 'vessel'], /berth rollout history takes no service: for one, --service vessel/],
    [['history', '--service', 'vesel'], /shippy has no service "vesel"/],
    [['history', '--output', 'yaml'], /--output: expected text or json, got "yaml"/],
    [['status'], /expected: berth rollout status <service>/],
    [['restart', 'vessel'], /expected history, status <service> or undo <service>, got "restart"/],
  ];
  for (const [args, message] of cases) {
    const result = await berth(kube.cluster, ['rollout', ...args, ...kube.target()]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${show(result)}`);
    assert.match(result.stderr, message);
  }
});
