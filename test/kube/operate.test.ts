/**
 * Day-two operations on a deployed shippy: canary promote and abort, scaling
 * seen through the EndpointSlice registry (with a service's own, least-privilege
 * credentials), and a node drain under PodDisruptionBudgets. One deploy serves
 * every test; each leaves the system whole for the next.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { KubeApiError, KubeClient } from '../../src/kube/kube-client.ts';
import { KubeRegistry } from '../../src/kube/kube-registry.ts';
import type { RegistryEvent } from '../../src/registry/registry.ts';
import { waitFor } from '../support/wait.ts';
import { berth, serviceAccountKubeConfig, shippyNamespace, show } from './cluster.ts';

const registry = 'registry.test/shippy';
let deployArgs: string[];

const kube = shippyNamespace('berth-operate', {
  volumes: true,
  copy: { registry },
  async setup() {
    deployArgs = kube.pinnedDeploy();
    const deployed = await berth(kube.cluster, deployArgs);
    assert.equal(deployed.code, 0, show(deployed));
  },
});
const { namespace } = kube;

async function pods(selector: string): Promise<V1Pod[]> {
  return (await kube.client.list<V1Pod>('v1', 'Pod', namespace, selector)).items;
}

const isReady = (pod: V1Pod) =>
  !pod.metadata?.deletionTimestamp &&
  pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ===
    true;

/** The Deployments of each service, by `app.kubernetes.io/name`, with their images. */
async function deploymentsByService(): Promise<Record<string, string[]>> {
  const list = await kube.client.list<V1Deployment>(
    'apps/v1',
    'Deployment',
    namespace,
    'app.kubernetes.io/part-of=shippy',
  );
  const byService: Record<string, string[]> = {};
  for (const deployment of list.items) {
    const service = deployment.metadata!.labels!['app.kubernetes.io/name']!;
    byService[service] = [
      ...(byService[service] ?? []),
      `${deployment.metadata!.name} ${deployment.spec!.template.spec!.containers[0]!.image}`,
    ];
  }
  return byService;
}

/** Until every pod of `service` is ready and runs `image`, and there are `count` of them. */
function waitForPods(service: string, image: string, count: number) {
  return waitFor(
    async () => {
      const current = await pods(`app.kubernetes.io/name=${service}`);
      return (
        current.length === count &&
        current.every((pod) => isReady(pod) && pod.spec!.containers[0]!.image === image)
      );
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `${count} ready ${service} pods of ${image}` },
  );
}

test('canary promote: the stable Deployment takes the canary image, and the canary goes', async () => {
  const started = await berth(kube.cluster, kube.pinnedCanary('vessel', 25, 'r2'));
  assert.equal(started.code, 0, show(started));
  assert.match(started.stdout, /canary vessel-canary: 1 pod\(s\) of r2 beside 3 of r1/);
  assert.match(started.stdout, /vessel-canary ready/);
  assert.deepEqual((await deploymentsByService()).vessel?.sort(), [
    `vessel ${registry}/shippy-vessel:r1`,
    `vessel-canary ${registry}/shippy-vessel:r2`,
  ]);
  // Behind the same Service: the canary's pod is among vessel's ready endpoints.
  const slices = await kube.client.list<{ endpoints?: Array<{ targetRef?: { name?: string } }> }>(
    'discovery.k8s.io/v1',
    'EndpointSlice',
    namespace,
    'kubernetes.io/service-name=vessel',
  );
  const endpoints = slices.items
    .flatMap((slice) => slice.endpoints ?? [])
    .map((endpoint) => endpoint.targetRef?.name);
  assert.ok(
    endpoints.some((name) => name?.startsWith('vessel-canary-')),
    `canary endpoint in ${endpoints}`,
  );

  const promoted = await berth(kube.cluster, [
    'canary',
    'promote',
    'vessel',
    ...kube.target(),
    '--tag',
    'r1',
  ]);
  assert.equal(promoted.code, 0, show(promoted));
  assert.match(promoted.stdout, /vessel: vessel now runs r2/);
  const byService = await deploymentsByService();
  for (const [service, deployments] of Object.entries(byService))
    assert.equal(deployments.length, 1, `one Deployment for ${service}: ${deployments}`);
  assert.deepEqual(byService.vessel, [`vessel ${registry}/shippy-vessel:r2`]);
  await waitForPods('vessel', `${registry}/shippy-vessel:r2`, 3);

  // Promoted is what a deploy of that release would have made: deploying it changes nothing.
  const redeploy = await berth(kube.cluster, [...deployArgs, '--tag', 'vessel=r2']);
  assert.equal(redeploy.code, 4 /* unchanged */, show(redeploy));
  assert.match(redeploy.stdout, /nothing changed/);
});

test('canary abort: a canary that never becomes ready is caught by the gate, and abort leaves the stable release alone', async () => {
  const started = await berth(kube.cluster, kube.pinnedCanary('user', 50, 'never-ready-r3'));
  assert.equal(started.code, 1, show(started));
  assert.match(
    started.stdout,
    /user-canary is not healthy \(crash loop: pod user-canary-\S+: CrashLoopBackOff .*\); run: berth canary abort user/,
  );
  const refused = await berth(kube.cluster, ['canary', 'promote', 'user', ...kube.target(), '--tag', 'r1']);
  assert.equal(refused.code, 1, show(refused));
  assert.match(refused.stderr, /canary user-canary is not healthy .*; abort it instead/);
  // A deploy now would prune the canary behind the user's back: it is refused, changing nothing.
  const deployRefused = await berth(kube.cluster, deployArgs);
  assert.equal(deployRefused.code, 3 /* refused */, show(deployRefused));
  assert.match(
    deployRefused.stderr,
    /a canary is running for user; nothing was changed\. Finish it first: berth canary promote user, or berth canary abort user/,
  );
  assert.equal((await deploymentsByService()).user?.length, 2, 'the canary is still there');

  const aborted = await berth(kube.cluster, ['canary', 'abort', 'user', ...kube.target()]);
  assert.equal(aborted.code, 0, show(aborted));
  const byService = await deploymentsByService();
  for (const [service, deployments] of Object.entries(byService))
    assert.equal(deployments.length, 1, `one Deployment for ${service}: ${deployments}`);
  assert.deepEqual(byService.user, [`user ${registry}/shippy-user:r1`]);
  await waitForPods('user', `${registry}/shippy-user:r1`, 3);
});

test('scaling up and down: the EndpointSlice registry follows, with only the RBAC berth grants', async (t) => {
  const kubeConfig = await serviceAccountKubeConfig(kube.cluster, kube.client, namespace, 'vessel');
  // The discovery Role is all a service gets: EndpointSlices and Services, nothing else.
  const asVessel = await KubeClient.connect({ kubeConfig });
  t.after(() => asVessel.close());
  await assert.rejects(
    asVessel.list('v1', 'Pod', namespace),
    (error) => error instanceof KubeApiError && error.status === 403,
  );

  const registryView = new KubeRegistry({ kubeConfig, namespace, system: 'shippy' });
  t.after(() => registryView.close());
  const events: RegistryEvent[] = [];
  const stopWatch = new AbortController();
  t.after(() => stopWatch.abort());
  void (async () => {
    for await (const event of registryView.watch({ signal: stopWatch.signal })) events.push(event);
  })().catch(() => {}); // ends with the registry; the assertions below say what was missing

  /** Addresses the registry offers for consignment, once they are exactly the ready pods' (and `count`). */
  const settled = (count: number) =>
    waitFor(
      async () => {
        const offered = (await registryView.list('consignment')).map((instance) => instance.address).sort();
        const ready = (await pods('app.kubernetes.io/name=consignment'))
          .filter(isReady)
          .map((pod) => `${pod.status!.podIP}:8080`)
          .sort();
        return offered.length === count && JSON.stringify(offered) === JSON.stringify(ready) && offered;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: `the registry to offer ${count} consignment endpoints` },
    );

  const names = [...new Set((await registryView.list()).map((instance) => instance.name))].sort();
  assert.deepEqual(
    names,
    ['consignment', 'email', 'user', 'vessel'],
    'services only: no gateway, postgres or nats',
  );
  const three = await settled(3);

  let result = await berth(kube.cluster, ['scale', 'consignment=5', ...kube.target()]);
  assert.equal(result.code, 0, show(result));
  const five = await settled(5);
  assert.ok(
    three.every((address) => five.includes(address)),
    'scaling up keeps the running pods',
  );

  result = await berth(kube.cluster, ['scale', 'consignment=1', ...kube.target()]);
  assert.equal(result.code, 0, show(result));
  const one = await settled(1);
  const removed = five.filter((address) => !one.includes(address));
  assert.equal(removed.length, 4);
  await waitFor(
    () =>
      removed.every((address) =>
        events.some((event) => event.type === 'remove' && event.instance.address === address),
      ),
    { timeoutMs: 10_000, what: 'a remove event for every deleted endpoint' },
  );

  result = await berth(kube.cluster, ['scale', 'consignment=3', ...kube.target()]);
  assert.equal(result.code, 0, show(result));
  await settled(3);
});

test('draining a node: evictions respect the PodDisruptionBudgets, every multi-replica service stays available', async (t) => {
  // Six vessel pods on three nodes: one node holds at least two, so the second
  // eviction of vessel must wait for the first one's replacement.
  const scaled = await berth(kube.cluster, ['scale', 'vessel=6', ...kube.target()]);
  assert.equal(scaled.code, 0, show(scaled));
  await waitForPods('vessel', `${registry}/shippy-vessel:r2`, 6);
  // The budget must have seen all six healthy first; a status still computed for the
  // smaller set could allow two disruptions at once, and the test would prove nothing.
  await waitFor(
    async () => {
      const budget = await kube.client.get<V1PodDisruptionBudget>(
        'policy/v1',
        'PodDisruptionBudget',
        namespace,
        'vessel',
      );
      return (
        budget?.status?.currentHealthy === 6 &&
        budget.status.expectedPods === 6 &&
        budget.status.disruptionsAllowed === 1
      );
    },
    { timeoutMs: 30_000, intervalMs: 200, what: 'the vessel budget to count six healthy pods' },
  );
  const vesselPods = await pods('app.kubernetes.io/name=vessel');
  const perNode = new Map<string, number>();
  for (const pod of vesselPods) perNode.set(pod.spec!.nodeName!, (perNode.get(pod.spec!.nodeName!) ?? 0) + 1);
  const [node, count] = [...perNode].sort((a, b) => b[1] - a[1])[0]!;
  assert.ok(count >= 2);

  const desired = new Map<string, number>();
  for (const deployment of (await kube.client.list<V1Deployment>('apps/v1', 'Deployment', namespace)).items)
    if ((deployment.spec?.replicas ?? 1) > 1)
      desired.set(deployment.metadata!.labels!['app.kubernetes.io/name']!, deployment.spec!.replicas!);

  await kube.client.mergePatch('v1', 'Node', undefined, node, { spec: { unschedulable: true } });
  t.after(() => kube.client.mergePatch('v1', 'Node', undefined, node, { spec: { unschedulable: false } }));

  // Watch availability while draining: the fewest ready pods each service had.
  const fewest = new Map(desired);
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const all = await pods('app.kubernetes.io/part-of=shippy');
      for (const service of desired.keys()) {
        const ready = all.filter(
          (pod) => pod.metadata!.labels!['app.kubernetes.io/name'] === service && isReady(pod),
        ).length;
        fewest.set(service, Math.min(fewest.get(service)!, ready));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  // The test awaits it (and so reports its failure); this stops it if the test fails first.
  const stopped = watcher.catch(() => {});
  t.after(async () => {
    watching = false;
    await stopped;
  });

  const blocked = new Map<string, number>();
  await waitFor(
    async () => {
      const remaining = (await pods('')).filter(
        (pod) => pod.spec!.nodeName === node && !pod.metadata!.deletionTimestamp,
      );
      // Same service back to back, so the budget is tested as early as possible.
      remaining.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
      for (const pod of remaining) {
        if ((await kube.client.evict(namespace, pod.metadata!.name!)) === 'blocked') {
          const service = pod.metadata!.labels!['app.kubernetes.io/name']!;
          blocked.set(service, (blocked.get(service) ?? 0) + 1);
        }
      }
      return remaining.length === 0;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `node ${node} to be drained` },
  );
  // Replacements on the other nodes; everything back at full strength.
  await waitFor(
    async () => {
      const all = (await pods('app.kubernetes.io/part-of=shippy')).filter(isReady);
      return (
        [...desired].every(
          ([service, replicas]) =>
            all.filter((pod) => pod.metadata!.labels!['app.kubernetes.io/name'] === service).length ===
            replicas,
        ) && all.every((pod) => pod.spec!.nodeName !== node)
      );
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'every service back at full strength off the drained node' },
  );
  watching = false;
  await watcher;

  t.diagnostic(
    `evictions refused with 429 until replacements were ready: ${JSON.stringify(Object.fromEntries(blocked))}`,
  );
  assert.ok((blocked.get('vessel') ?? 0) > 0, 'the budget held back a second vessel eviction');
  for (const [service, replicas] of desired) {
    const least = fewest.get(service)!;
    assert.ok(least >= 1, `${service} always had a ready pod (fewest: ${least})`);
    assert.ok(
      least >= replicas - 1,
      `${service} lost at most one pod at a time (fewest ${least} of ${replicas})`,
    );
  }
});
