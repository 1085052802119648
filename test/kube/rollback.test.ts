/**
 * A failed `berth deploy` undoes the whole release, as Helm's --atomic does: in
 * one namespace, release N is deployed, then releases that fail (a Deployment
 * that never becomes ready, a StatefulSet that never does), and after each
 * automatic rollback every object berth renders reads back from the API server
 * exactly as release N left it, and what the failed release created is gone.
 *
 * Images are pinned with --tag, as in deploy.test.ts (KWOK never pulls them).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readHistory } from '../../src/kube/release-history.ts';
import { repoRoot } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';
import { berth, type SystemYaml, shippyNamespace, show } from './cluster.ts';
import { assertSameObjects, systemObjects } from './system-objects.ts';

const kube = shippyNamespace('berth-rollback', {
  volumes: true,
  copy: { registry: 'registry.test/shippy' },
});
const { namespace } = kube;

/** A short progress deadline, the same on every deploy (changing it is a change). */
const deployArgs = (env: string, ...tags: string[]) => [
  'deploy',
  '-f',
  kube.shippy.dir,
  '--env',
  env,
  '--progress-deadline',
  '8',
  '--timeout',
  '60',
  '--tag',
  'r1',
  ...tags.flatMap((tag) => ['--tag', tag]),
];

let releaseN: Map<string, unknown>;

test('release N deploys', async () => {
  const result = await berth(kube.cluster, deployArgs('test'));
  assert.equal(result.code, 0, show(result));
  releaseN = await systemObjects(kube.client, namespace);
  const gateway = releaseN.get('Service/gateway') as { spec: { type: string } };
  assert.equal(gateway.spec.type, 'LoadBalancer');
});

test('a release whose rollout fails puts back every object it changed and deletes those it created', async () => {
  // Release N+1: the gateway's Service type follows the environment (NodePort in
  // dev, LoadBalancer elsewhere), so the dev overlay, deployed into the same
  // namespace, changes it; with it vessel's env (its ConfigMap), consignment's
  // replicas, a new service (its ServiceAccount, RoleBinding, ConfigMap, Service,
  // Deployment, PDB) and a vessel image that never becomes ready.
  kube.shippy.edit((system: SystemYaml) => {
    system.services.vessel = { ...system.services.vessel, env: { LOG_LEVEL: 'debug' } };
    system.services.tracking = {
      path: join(repoRoot, 'examples/shippy/vessel'),
      serves: [],
      uses: ['postgres'],
    };
    const dev = structuredClone(system.environments.test!);
    dev.services!.consignment = { ...dev.services!.consignment, replicas: 2 };
    dev.services!.tracking = { replicas: 2 };
    system.environments.dev = dev;
  });
  const result = await berth(kube.cluster, deployArgs('dev', 'vessel=never-ready-r2', 'tracking=r1'));
  assert.equal(result.code, 1 /* rolled back */, show(result));
  assert.match(result.stderr, /\n {2}vessel: .*CrashLoopBackOff.* → rolled back to revision 1\n/);
  assert.match(
    result.stderr,
    /\n {2}tracking: rolled back because another service failed; removed \(new in this deploy\)\n/,
  );
  assert.match(
    result.stderr,
    /\n {2}put back as before: .*ConfigMap\/vessel-config.*Service\/gateway.*Deployment\/consignment/,
  );
  assert.match(
    result.stderr,
    // tracking uses postgres: its role came with a new roles Job, which goes too.
    /\n {2}deleted \(new in this deploy\): Deployment\/tracking, Job\/database-roles-[0-9a-f]{10}, PodDisruptionBudget\/tracking, Service\/tracking, ConfigMap\/tracking-config, RoleBinding\/tracking-discovery, ServiceAccount\/tracking\n/,
  );

  assertSameObjects(await systemObjects(kube.client, namespace), releaseN);
  const history = await readHistory(kube.client, 'shippy', namespace);
  assert.deepEqual(
    history.map((entry) => [entry.deploy, entry.ok, entry.environment]),
    [
      [1, true, 'test'],
      [2, false, 'dev'],
    ],
  );
});

test('a release whose StatefulSet never becomes ready is rolled back as a whole and recorded as failed', async () => {
  // Back to release N's berth.yaml, but NATS's image never becomes ready and vessel's env changes.
  kube.shippy.edit((system: SystemYaml) => {
    delete system.services.tracking;
    delete system.environments.dev;
    system.resources = {
      ...(system.resources as object),
      nats: { image: 'registry.test/never-ready-nats:1' },
    };
  });
  const result = await berth(kube.cluster, [...deployArgs('test'), '--output', 'json']);
  assert.equal(result.code, 1 /* rolled back */, show(result));
  const report = JSON.parse(result.stdout) as {
    outcome: string;
    reason: string;
    restored: Array<{ kind: string; name: string }>;
    deleted: unknown[];
  };
  assert.equal(report.outcome, 'rolled-back');
  assert.match(report.reason, /^nats: nats cannot become ready: .*CrashLoopBackOff/);
  assert.deepEqual(report.restored, [
    { kind: 'ConfigMap', name: 'vessel-config' },
    { kind: 'StatefulSet', name: 'nats' },
  ]);
  assert.deepEqual(report.deleted, []);
  assert.match(result.stderr, /\n {2}nats: nats cannot become ready: .*\n/);

  assertSameObjects(await systemObjects(kube.client, namespace), releaseN);
  const history = await readHistory(kube.client, 'shippy', namespace);
  assert.deepEqual(
    history.map((entry) => [entry.deploy, entry.ok]),
    [
      [1, true],
      [2, false],
      [3, false],
    ],
  );
});

test('a failed release that stops autoscaling leaves the replica count as it was', async () => {
  // Release N': vessel autoscales; berth hands its count (3) over and owns it no more.
  kube.shippy.edit((system: SystemYaml) => {
    system.resources = { ...(system.resources as object), nats: {} };
    const overlay = system.environments.test!.services!.vessel!;
    delete overlay.replicas;
    overlay.autoscale = { min: 2, max: 4, cpu: 70 };
  });
  const autoscaled = await berth(kube.cluster, deployArgs('test'));
  assert.equal(autoscaled.code, 0, show(autoscaled));
  const releaseAutoscaled = await systemObjects(kube.client, namespace);

  // N'+1 drops autoscale for 5 replicas and fails: berth let go of replicas
  // again, which would leave the Deployment with none (1) without a hand-over.
  kube.shippy.edit((system: SystemYaml) => {
    const overlay = system.environments.test!.services!.vessel!;
    delete overlay.autoscale;
    overlay.replicas = 5;
  });
  const result = await berth(kube.cluster, deployArgs('test', 'vessel=never-ready-r3'));
  assert.equal(result.code, 1 /* rolled back */, show(result));
  assertSameObjects(await systemObjects(kube.client, namespace), releaseAutoscaled);
});

test('an object the API server refuses after the dry run passed (a quota the new objects exceed together) rolls the release back', async () => {
  // Back to the autoscaled release, now with two new services: two ConfigMaps more.
  kube.shippy.edit((system: SystemYaml) => {
    const overlay = system.environments.test!.services!.vessel!;
    delete overlay.replicas;
    overlay.autoscale = { min: 2, max: 4, cpu: 70 };
  });
  assert.equal((await berth(kube.cluster, deployArgs('test'))).code, 4 /* unchanged */);
  const before = await systemObjects(kube.client, namespace);
  kube.shippy.edit((system: SystemYaml) => {
    for (const name of ['audit', 'ledger']) {
      system.services[name] = { path: join(repoRoot, 'examples/shippy/vessel'), serves: [] };
    }
  });
  // Room for one ConfigMap more: each passes the dry run alone, the second is refused.
  const configMaps = (await kube.client.list('v1', 'ConfigMap', namespace)).items.length;
  await kube.client.create({
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { name: 'configmaps', namespace },
    spec: { hard: { 'count/configmaps': String(configMaps + 1) } },
  });
  await waitFor(
    async () => {
      const quota = await kube.client.get<{ status?: { used?: Record<string, string> } }>(
        'v1',
        'ResourceQuota',
        namespace,
        'configmaps',
      );
      return quota?.status?.used?.['count/configmaps'] === String(configMaps);
    },
    { what: 'the quota controller to count the ConfigMaps' },
  );

  const result = await berth(kube.cluster, deployArgs('test'));
  await kube.client.delete('v1', 'ResourceQuota', namespace, 'configmaps');
  assert.equal(result.code, 1 /* rolled back */, show(result));
  assert.match(
    result.stderr,
    /\n {2}ConfigMap\/ledger-config: the API server refused it after the dry run had passed: 403 Forbidden: .*exceeded quota: configmaps/,
  );
  assert.match(result.stderr, /\n {2}deleted \(new in this deploy\): .*ConfigMap\/audit-config/);
  assertSameObjects(await systemObjects(kube.client, namespace), before);
  const history = await readHistory(kube.client, 'shippy', namespace);
  assert.deepEqual(history.at(-1)?.ok, false);
});
