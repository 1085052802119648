/**
 * An autoscaled service on the test cluster: berth renders its
 * HorizontalPodAutoscaler, hands the replica count over to it, and later deploys
 * never take the count back; `berth scale` refuses it; dropping `autoscale`
 * prunes the HPA. Pods that never call the API server get no token. Deploys
 * here run as a pipeline would: `--output json`, one document on stdout, an exit
 * code per outcome. Each test starts from the state the previous one leaves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment, V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { handoverFieldManager } from '../../src/kube/autoscaler.ts';
import { acquireDeployLock } from '../../src/kube/deploy-lock.ts';
import { fieldManager } from '../../src/kube/manifests.ts';
import { waitFor } from '../support/wait.ts';
import { berth, shippyNamespace, show } from './cluster.ts';

const kube = shippyNamespace('berth-autoscale', {
  volumes: true,
  copy: { registry: 'registry.test/shippy' },
});
const { namespace } = kube;

const deploy = (...extra: string[]) => berth(kube.cluster, [...kube.pinnedDeploy(), ...extra]);

/** What `berth deploy --output json` prints. */
interface DeployReport {
  outcome: string;
  environment: string;
  namespace: string | null;
  changed: Array<{ kind: string; name: string }>;
  pruned: Array<{ kind: string; name: string }>;
  revisions: Record<string, { from: number | null; to: number }>;
  reason?: string;
  durationMs: number;
}

/** A deploy as a pipeline runs it: its exit code and the one JSON document on stdout. */
async function deployJson(
  ...extra: string[]
): Promise<{ code: number | null; report: DeployReport; stderr: string }> {
  const result = await deploy('--output', 'json', ...extra);
  let report: DeployReport;
  try {
    report = JSON.parse(result.stdout);
  } catch {
    assert.fail(`stdout is one JSON document\n${show(result)}`);
  }
  assert.equal(report.environment, 'test');
  assert.ok(Number.isInteger(report.durationMs) && report.durationMs >= 0, show(result));
  return { code: result.code, report, stderr: result.stderr };
}

const refs = (objects: Array<{ kind: string; name: string }>) =>
  objects.map(({ kind, name }) => `${kind}/${name}`);

const vessel = () => kube.client.get<V1Deployment>('apps/v1', 'Deployment', namespace, 'vessel');
const autoscaler = () =>
  kube.client.get<V2HorizontalPodAutoscaler>(
    'autoscaling/v2',
    'HorizontalPodAutoscaler',
    namespace,
    'vessel',
  );

/** Whether `manager` owns the Deployment's spec.replicas (its managedFields). */
function ownsReplicas(deployment: V1Deployment | undefined, manager: string): boolean {
  return (deployment?.metadata?.managedFields ?? []).some(
    (entry) =>
      entry.manager === manager &&
      Object.hasOwn((entry.fieldsV1 as { 'f:spec'?: object } | undefined)?.['f:spec'] ?? {}, 'f:replicas'),
  );
}

/** What the HPA controller does: set the replicas through the scale subresource. */
async function scaleAsTheAutoscaler(replicas: number): Promise<void> {
  await kube.client.request(
    'PATCH',
    `${kube.client.path('apps/v1', 'Deployment', namespace, 'vessel')}/scale?fieldManager=test-autoscaler`,
    { spec: { replicas } },
    'application/merge-patch+json',
  );
  await waitFor(async () => (await vessel())?.spec?.replicas === replicas, {
    what: `vessel at ${replicas} replicas`,
  });
}

test('a service that starts to autoscale keeps its replicas; berth no longer owns them', async () => {
  const first = await deploy();
  assert.equal(first.code, 0, show(first));
  assert.equal((await vessel())?.spec?.replicas, 3, 'production replicas');
  assert.ok(ownsReplicas(await vessel(), fieldManager));

  kube.shippy.edit((system) => {
    const overlay = system.environments.test.services!.vessel!;
    delete overlay.replicas;
    overlay.autoscale = { min: 1, max: 5, cpu: 70 };
  });
  const { code, report, stderr } = await deployJson();
  assert.equal(code, 0, stderr);
  assert.equal(report.outcome, 'deployed');
  assert.equal(report.namespace, namespace);
  assert.deepEqual(refs(report.changed), ['HorizontalPodAutoscaler/vessel'], 'nothing else changed');
  assert.deepEqual(refs(report.pruned), ['PodDisruptionBudget/vessel'], 'min 1: no PDB');
  assert.deepEqual(report.revisions.vessel, { from: 1, to: 1 });
  assert.match(stderr, /deploying shippy \(test\)/, 'progress goes to stderr');
  const hpa = await autoscaler();
  assert.deepEqual(
    [hpa?.spec?.minReplicas, hpa?.spec?.maxReplicas, hpa?.spec?.scaleTargetRef.name],
    [1, 5, 'vessel'],
  );
  const deployment = await vessel();
  // Without the handover, apply would drop the field it no longer sets: 1 replica.
  assert.equal(deployment?.spec?.replicas, 3, 'not reset to 1 when berth let go of replicas');
  assert.equal(ownsReplicas(deployment, fieldManager), false, 'berth does not own replicas');
  assert.ok(ownsReplicas(deployment, handoverFieldManager));
  assert.equal(await kube.client.get('policy/v1', 'PodDisruptionBudget', namespace, 'vessel'), undefined);
});

test('the replicas the autoscaler sets survive the next deploy', async () => {
  await scaleAsTheAutoscaler(4);
  const { code, report, stderr } = await deployJson();
  assert.equal(code, 4, `exit 4: nothing changed\n${stderr}`);
  assert.deepEqual(
    [report.outcome, report.changed, report.pruned, report.reason],
    ['unchanged', [], [], undefined],
  );
  assert.deepEqual(report.revisions.gateway, { from: 1, to: 1 });
  assert.equal((await vessel())?.spec?.replicas, 4);
});

test('a deploy while another holds the lock: outcome refused, exit 3, the holder in the reason', async () => {
  const lock = await acquireDeployLock(kube.client, 'shippy', namespace, { holder: 'pipeline-run-7' });
  try {
    const { code, report, stderr } = await deployJson();
    assert.equal(code, 3, stderr);
    assert.equal(report.outcome, 'refused');
    assert.match(report.reason ?? '', /pipeline-run-7 holds Lease shippy-deploy/);
    assert.deepEqual([report.changed, report.pruned, report.revisions], [[], [], {}]);
  } finally {
    await lock.release();
  }
});

test('a release that never becomes ready: outcome rolled-back, exit 1, the reason; the autoscaler’s count stays', async () => {
  const { code, report, stderr } = await deployJson('--tag', 'vessel=never-ready-r2');
  assert.equal(code, 1, stderr);
  assert.equal(report.outcome, 'rolled-back');
  assert.match(report.reason ?? '', /^vessel: crash loop: pod vessel-\S+: CrashLoopBackOff/);
  assert.deepEqual(refs(report.changed), ['Deployment/vessel']);
  assert.equal(report.revisions.vessel?.from, 1);
  const deployment = await vessel();
  assert.equal(
    deployment?.spec?.template.spec?.containers[0]?.image,
    'registry.test/shippy/shippy-vessel:r1',
  );
  assert.equal(deployment?.spec?.replicas, 4);
});

test('berth scale refuses an autoscaled service, naming what to change instead', async () => {
  const result = await berth(kube.cluster, ['scale', 'vessel=2', '-f', kube.shippy.dir, '--env', 'test']);
  assert.equal(result.code, 1, show(result));
  assert.match(
    result.stderr,
    /vessel autoscales \(autoscale: \{ min: 1, max: 5, cpu: 70 \} in .*berth\.yaml, environment test\): its HorizontalPodAutoscaler sets the replicas\. Change autoscale's min or max there/,
  );
  assert.equal((await vessel())?.spec?.replicas, 4, 'untouched');
});

test('pods that never call the API server mount no token; those that watch EndpointSlices do', async () => {
  const pods = async (name: string) =>
    (await kube.client.list<V1Pod>('v1', 'Pod', namespace, `app.kubernetes.io/name=${name}`)).items;
  const mountsToken = (pod: V1Pod) =>
    (pod.spec?.volumes ?? []).some((volume) => volume.name.startsWith('kube-api-access-'));
  for (const name of ['postgres', 'nats']) {
    const [pod] = await pods(name);
    assert.ok(pod, `${name} has a pod`);
    assert.equal(mountsToken(pod), false, `${name}: no token`);
  }
  for (const pod of await pods('gateway')) assert.equal(mountsToken(pod), true, 'the gateway watches');
});

test('dropping autoscale prunes the HPA and berth.yaml replicas apply again', async () => {
  kube.shippy.edit((system) => {
    const overlay = system.environments.test.services!.vessel!;
    delete overlay.autoscale;
    overlay.replicas = 2;
  });
  const result = await deploy();
  assert.equal(result.code, 0, show(result));
  assert.match(result.stdout, /pruned HorizontalPodAutoscaler\/vessel/);
  assert.equal(await autoscaler(), undefined);
  assert.equal((await vessel())?.spec?.replicas, 2);
});
