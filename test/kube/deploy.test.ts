/**
 * `berth deploy` of shippy against a real control plane, one namespace, in
 * order: a first deploy, an unchanged one, a broken release that rolls itself
 * back, logs, and pruning after a service leaves berth.yaml. Each test starts
 * from the state the previous one leaves, which is also what it checks.
 *
 * Images are pinned with --tag (`r1`…): content tags would change whenever
 * anyone edits src/ while the suite runs, and no image is ever pulled (KWOK).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ConfigMap, V1Deployment, V1Lease, V1ReplicaSet, V1Secret } from '@kubernetes/client-node';
import { acquireDeployLock } from '../../src/kube/deploy-lock.ts';
import { readHistory } from '../../src/kube/release-history.ts';
import { waitFor } from '../support/wait.ts';
import { berth, type ServiceYaml, shippyNamespace, show } from './cluster.ts';

const registry = 'registry.test/shippy';
const kube = shippyNamespace('berth-deploy', { volumes: true, copy: { registry } });
const { namespace, cleanup } = kube;

async function deployments(): Promise<Map<string, V1Deployment>> {
  const list = await kube.client.list<V1Deployment>(
    'apps/v1',
    'Deployment',
    namespace,
    'app.kubernetes.io/part-of=shippy',
  );
  return new Map(list.items.map((deployment) => [deployment.metadata!.name!, deployment]));
}

const imageOf = (deployment: V1Deployment | undefined) =>
  deployment?.spec?.template.spec?.containers[0]?.image;

/** `berth status` exits 0 only when every workload is ready; its table says so per workload. */
async function assertAllReady(): Promise<void> {
  const result = await berth(kube.cluster, ['status', ...kube.target()]);
  assert.equal(result.code, 0, show(result));
  // The table, then a blank line and where the gateway is.
  const rows = result.stdout
    .split('\n\n')[0]!
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(/\s+/));
  assert.deepEqual(
    rows.map(([name]) => name),
    ['consignment', 'email', 'gateway', 'user', 'vessel', 'nats', 'postgres'],
    result.stdout,
  );
  for (const [name, desired, ready] of rows) assert.equal(ready, desired, `${name} ready\n${result.stdout}`);
}

test('a first deploy of shippy completes every rollout; berth status shows it ready', async (t) => {
  const started = performance.now();
  const result = await berth(kube.cluster, kube.pinnedDeploy());
  const wall = (performance.now() - started) / 1000;
  assert.equal(result.code, 0, show(result));
  assert.match(result.stdout, /created secret postgres-credentials/);
  assert.match(result.stdout, /created secret user-secrets/);
  assert.match(result.stdout, /postgres: ✓ 1\/1 ready/);
  assert.match(result.stdout, /nats: ✓ 1\/1 ready/);
  assert.match(
    result.stdout,
    /deploy #1 done in [\d.]+ s: updated consignment, email, user, vessel, gateway\n/,
  );
  t.diagnostic(
    `first deploy: ${/done in ([\d.]+ s)/.exec(result.stdout)![1]} (CLI wall time ${wall.toFixed(1)} s)`,
  );

  const byName = await deployments();
  assert.deepEqual([...byName.keys()].sort(), ['consignment', 'email', 'gateway', 'user', 'vessel']);
  assert.equal(imageOf(byName.get('vessel')), `${registry}/shippy-vessel:r1`);
  assert.equal(byName.get('vessel')!.spec!.replicas, 3, 'production replicas');
  await assertAllReady();
});

test('deploying the same release again changes nothing', async (t) => {
  const replicaSets = async () =>
    (await kube.client.list<V1ReplicaSet>('apps/v1', 'ReplicaSet', namespace)).items
      .map((set) => set.metadata!.uid)
      .sort();
  const generations = async () =>
    [...(await deployments()).values()].map(
      (deployment) => `${deployment.metadata!.name}@${deployment.metadata!.generation}`,
    );
  const setsBefore = await replicaSets();
  const generationsBefore = await generations();

  const started = performance.now();
  const result = await berth(kube.cluster, kube.pinnedDeploy());
  const wall = (performance.now() - started) / 1000;
  assert.equal(result.code, 4 /* unchanged */, show(result));
  assert.match(result.stdout, /deploy #2 done in [\d.]+ s: nothing changed\n/);
  for (const name of ['consignment', 'email', 'gateway', 'user', 'vessel'])
    assert.match(result.stdout, new RegExp(`${name}: ✓ unchanged \\(revision 1\\)`));
  t.diagnostic(
    `unchanged deploy: ${/done in ([\d.]+ s)/.exec(result.stdout)![1]} (CLI wall time ${wall.toFixed(1)} s)`,
  );

  assert.deepEqual(await replicaSets(), setsBefore, 'no new ReplicaSet');
  assert.deepEqual(await generations(), generationsBefore, 'no new generation');
});

test('a release the API server rejects changes nothing', async () => {
  const before = await deployments();
  kube.shippy.edit((system) => {
    system.environments.test.services!.user.resources!.cpu = '2'; // above its limit of 1
  });
  const result = await berth(kube.cluster, kube.pinnedDeploy('email=r2'));
  kube.shippy.edit((system) => {
    system.environments.test.services!.user.resources!.cpu = '250m';
  });
  assert.equal(result.code, 5 /* failed */, show(result));
  assert.match(
    result.stderr,
    /the API server rejects an object of this release; nothing was changed:\n {2}Deployment\/user: 422 Invalid: .*must be less than or equal to cpu limit/,
  );
  const after = await deployments();
  for (const [name, deployment] of before) {
    assert.equal(after.get(name)!.metadata!.generation, deployment.metadata!.generation, `${name} untouched`);
  }
  assert.equal(imageOf(after.get('email')), `${registry}/shippy-email:r1`);
});

test('a release that never becomes ready is rolled back by itself, with the reason per service', async (t) => {
  // vessel crash-loops (KWOK keeps "never-ready" images in CrashLoopBackOff) and fails
  // first; user's new pods cannot be scheduled, but the deploy does not wait for its
  // progress deadline: it and email (whose new release is fine) go back with vessel at
  // once. consignment and gateway are unchanged.
  let original: ServiceYaml['resources'];
  kube.shippy.edit((system) => {
    original = system.environments.test.services!.user.resources;
    system.environments.test.services!.user.resources = { cpu: '100', limits: { cpu: '100' } };
  });
  const result = await berth(kube.cluster, kube.pinnedDeploy('vessel=never-ready-r2', 'email=r2'));
  kube.shippy.edit((system) => {
    system.environments.test.services!.user.resources = original;
  });

  assert.equal(result.code, 1 /* rolled back */, show(result));
  assert.match(result.stderr, /deploy #3 FAILED after [\d.]+ s:/);
  t.diagnostic(
    `broken release detected and rolled back in ${/FAILED after ([\d.]+ s)/.exec(result.stderr)![1]}`,
  );
  assert.match(
    result.stderr,
    /\n {2}vessel: crash loop: pod vessel-\S+: CrashLoopBackOff .* → rolled back to revision 1\n/,
  );
  assert.match(
    result.stderr,
    /\n {2}user: rolled back because another service failed → rolled back to revision 1\n/,
  );
  assert.match(
    result.stderr,
    /\n {2}email: rolled back because another service failed → rolled back to revision 1\n/,
  );
  assert.doesNotMatch(result.stderr, /consignment|gateway/);

  // The previous release serves again, at full strength.
  const byName = await deployments();
  for (const name of ['vessel', 'email', 'user', 'consignment', 'gateway'])
    assert.equal(imageOf(byName.get(name)), `${registry}/shippy-${name}:r1`, `${name} runs r1 again`);
  assert.equal(byName.get('user')!.spec!.template.spec!.containers[0]!.resources!.requests!.cpu, '250m');
  await assertAllReady();

  const history = await readHistory(kube.client, 'shippy', namespace);
  assert.deepEqual(
    history.map((entry) => [entry.deploy, entry.ok, entry.tags.vessel]),
    [
      [1, true, 'r1'],
      [2, true, 'r1'],
      [3, false, 'never-ready-r2'],
    ],
  );
});

test('berth logs --cluster says plainly that the cluster cannot provide logs (KWOK runs no containers)', async () => {
  const result = await berth(kube.cluster, [
    'logs',
    'vessel',
    '--cluster',
    '--file',
    kube.shippy.dir,
    '--env',
    'test',
  ]);
  assert.equal(result.code, 1, show(result));
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 3, 'one line per vessel pod');
  for (const line of lines)
    assert.match(
      line,
      /^vessel-\S+: the cluster cannot provide the logs of pod vessel-\S+ \(\d{3} \w+: .+\)$/,
    );
});

test('a service removed from berth.yaml is pruned; objects berth did not create are left alone', async () => {
  const handMade = { 'app.kubernetes.io/part-of': 'shippy' };
  await kube.client.create<V1ConfigMap>({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'hand-made', namespace },
    data: { note: 'not berth' },
  });
  await kube.client.create<V1Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hand-made', namespace, labels: handMade },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'hand-made' } },
      template: {
        metadata: { labels: { app: 'hand-made' } },
        spec: { containers: [{ name: 'app', image: 'registry.test/hand-made:1' }] },
      },
    },
  });
  kube.shippy.edit((system) => {
    delete system.services.email;
    system.services.user!.dependsOn = [];
    for (const overlay of Object.values(system.environments)) delete overlay.services?.email;
  });

  const result = await berth(kube.cluster, kube.pinnedDeploy());
  assert.equal(result.code, 0, show(result));
  const pruned = /; pruned (.+)\n/.exec(result.stdout)?.[1]?.split(', ').sort();
  // email had a database role: the roles Job of the release before goes too (this one ran its own).
  const previousRolesJob = pruned?.find((ref) => ref.startsWith('Job/'));
  assert.match(previousRolesJob ?? '', /^Job\/database-roles-[0-9a-f]{10}$/);
  assert.deepEqual(pruned, [
    'ConfigMap/email-config',
    'Deployment/email',
    previousRolesJob,
    'NetworkPolicy/shippy-email-egress',
    'PodDisruptionBudget/email',
    'RoleBinding/email-discovery',
    'Service/email',
    'ServiceAccount/email',
  ]);
  for (const [apiVersion, kind, name] of [
    ['apps/v1', 'Deployment', 'email'],
    ['v1', 'Service', 'email'],
    ['v1', 'ConfigMap', 'email-config'],
    ['v1', 'ServiceAccount', 'email'],
    ['policy/v1', 'PodDisruptionBudget', 'email'],
    ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'email-discovery'],
    // Its own egress (SMTP), as production's overlay gives it.
    ['networking.k8s.io/v1', 'NetworkPolicy', 'shippy-email-egress'],
  ] as const) {
    assert.equal(
      await kube.client.get(apiVersion, kind, namespace, name),
      undefined,
      `${kind}/${name} is gone`,
    );
  }
  await waitFor(
    async () =>
      (await kube.client.list('v1', 'Pod', namespace, 'app.kubernetes.io/name=email')).items.length === 0,
    { timeoutMs: 30_000, intervalMs: 250, what: "email's pods to go" },
  );

  assert.ok(await kube.client.get('v1', 'ConfigMap', namespace, 'hand-made'), 'hand-made ConfigMap kept');
  assert.ok(
    await kube.client.get('apps/v1', 'Deployment', namespace, 'hand-made'),
    'hand-made Deployment kept',
  );
  assert.ok(await kube.client.get('v1', 'ConfigMap', namespace, 'shippy-berth-history'), 'history kept');
  assert.ok(
    await kube.client.get('v1', 'Secret', namespace, 'postgres-credentials'),
    'generated secrets kept',
  );
  const byName = await deployments();
  assert.deepEqual([...byName.keys()].sort(), ['consignment', 'gateway', 'hand-made', 'user', 'vessel']);
});

test('a secret added to berth.yaml is generated on the next deploy; existing values never change', async () => {
  const secret = () => kube.client.get<V1Secret>('v1', 'Secret', namespace, 'user-secrets');
  const before = (await secret())!.data!;
  kube.shippy.edit((system) => {
    system.services.user!.secrets = ['JWT_SECRET', 'WEBHOOK_KEY'];
  });
  const result = await berth(kube.cluster, kube.pinnedDeploy());
  assert.equal(result.code, 0 /* deployed */, show(result));
  assert.match(result.stdout, /added WEBHOOK_KEY to secret user-secrets \(generated\)/);
  assert.match(
    result.stdout,
    /done in [\d.]+ s: no service updated; changed Secret\/user-secrets\n/,
    'Secrets come in through envFrom: no pod template changes',
  );
  const after = (await secret())!.data!;
  assert.equal(after.JWT_SECRET, before.JWT_SECRET);
  assert.ok(Buffer.from(after.WEBHOOK_KEY!, 'base64').length >= 32);
  assert.doesNotMatch(result.stdout, /postgres-credentials/);
});

test('a deploy while another holds the lock is refused naming the holder; a killed deploy’s lock expires', async () => {
  const lock = await acquireDeployLock(kube.client, 'shippy', namespace, { holder: 'ci-job-42' });
  let released = false;
  cleanup(() => (released ? undefined : lock.release()));
  const refused = await berth(kube.cluster, kube.pinnedDeploy());
  assert.equal(refused.code, 3 /* refused */, show(refused));
  assert.match(
    refused.stderr,
    /refused: another deploy of shippy in namespace .* is running: ci-job-42 holds Lease shippy-deploy/,
  );
  await lock.release();
  released = true;
  assert.equal((await berth(kube.cluster, kube.pinnedDeploy())).code, 4 /* unchanged */);

  // A CLI killed mid-deploy leaves its holder in the Lease, no longer renewed.
  const lease = await kube.client.get<V1Lease>('coordination.k8s.io/v1', 'Lease', namespace, 'shippy-deploy');
  const longAgo = new Date(Date.now() - 5 * 60_000).toISOString().replace('Z', '000Z');
  await kube.client.request(
    'PUT',
    kube.client.path('coordination.k8s.io/v1', 'Lease', namespace, 'shippy-deploy'),
    {
      ...lease,
      spec: { ...lease!.spec, holderIdentity: 'killed-job', renewTime: longAgo, leaseDurationSeconds: 60 },
    },
  );
  const takenOver = await berth(kube.cluster, kube.pinnedDeploy());
  assert.equal(takenOver.code, 4 /* unchanged */, show(takenOver));
});

// That the second of two overlapping deploys is refused is the test above (a held
// lock); two CLIs started together may or may not overlap, so this one checks only
// what must hold either way: one release, a history without collisions.
test('two deploys started at once: each is done or refused, and the history stays consistent', async () => {
  const results = await Promise.all([
    berth(kube.cluster, kube.pinnedDeploy()),
    berth(kube.cluster, kube.pinnedDeploy()),
  ]);
  for (const result of results) {
    // 4: nothing changed (the same release again), 3: refused.
    assert.ok(result.code === 4 || result.code === 3, show(result));
    if (result.code === 3) assert.match(result.stderr, /holds Lease shippy-deploy|at the same moment/);
  }
  assert.ok(
    results.some((result) => result.code === 4),
    'one of them deployed (the same release again: nothing changed)',
  );
  const history = await readHistory(kube.client, 'shippy', namespace);
  const numbers = history.map((entry) => entry.deploy);
  assert.equal(new Set(numbers).size, numbers.length, `deploy numbers are unique: ${numbers.join(', ')}`);
});
