/**
 * Typed calls find their instances on Kubernetes: the EndpointSlice registry,
 * running with a service's own ServiceAccount token, offers the pods of an
 * applied service under the proto services `berth manifests` wrote on its
 * Service, and follows a change of that annotation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { loadSystemFile } from '../../src/config/system-file.ts';
import { KubeRegistry } from '../../src/kube/kube-registry.ts';
import { RegistryCache } from '../../src/registry/registry-cache.ts';
import { waitFor } from '../support/wait.ts';
import { recordWatch } from '../support/watch.ts';
import { copyShippy, renderTagged, serviceAccountKubeConfig, shippyNamespace } from './cluster.ts';

const kube = shippyNamespace('berth-registry', {
  async setup() {
    for (const object of renderedFor(['vessel', 'user'])) await kube.client.apply(object);
  },
});
const { namespace, cleanup } = kube;
const vesselV1 = 'shippy.vessel.v1.VesselService';
const vesselV2 = 'shippy.vessel.v2.VesselService';

/** The objects of the system and of `services`, as `berth manifests` renders them. */
function renderedFor(services: readonly string[]): KubernetesObject[] {
  const shippy = copyShippy({ namespace, registry: 'registry.test/shippy' }, cleanup);
  return renderTagged(loadSystemFile(shippy.file, { env: 'test' })).filter(
    (object) =>
      ['Namespace', 'Role'].includes(object.kind!) ||
      services.includes(object.metadata?.labels?.['app.kubernetes.io/name'] ?? ''),
  );
}

/** `<podIP>:8080` of the ready pods of a service, sorted. */
async function readyPodAddresses(service: string): Promise<string[]> {
  const pods = await kube.client.list<V1Pod>('v1', 'Pod', namespace, `app.kubernetes.io/name=${service}`);
  return pods.items
    .filter(
      (pod) =>
        !pod.metadata?.deletionTimestamp &&
        pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    .map((pod) => `${pod.status!.podIP}:8080`)
    .sort();
}

test("instancesServing finds an applied service's pods by the proto service on its Service, and follows the annotation", async (t) => {
  const registry = new KubeRegistry({
    kubeConfig: await serviceAccountKubeConfig(kube.cluster, kube.client, namespace, 'vessel'),
    namespace,
    system: 'shippy',
  });
  t.after(() => registry.close());
  const cache = new RegistryCache(registry);
  t.after(() => cache.close());
  await cache.start();
  const serving = (protoService: string) =>
    cache
      .instancesServing(protoService)
      .map((instance) => instance.address)
      .sort();
  /** Until the cache offers exactly the ready pods of `service` (the production overlay runs 3) for `protoService`. */
  const offered = (protoService: string, service: string) =>
    waitFor(
      async () => {
        const ready = await readyPodAddresses(service);
        return ready.length === 3 && JSON.stringify(serving(protoService)) === JSON.stringify(ready) && ready;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `the 3 ready ${service} pods to serve ${protoService}` },
    );

  const vessels = await offered(vesselV1, 'vessel');
  await offered('shippy.user.v1.UserService', 'user');
  assert.deepEqual(serving(vesselV2), []);
  const watching = recordWatch(registry, { name: 'vessel' });
  t.after(() => watching.stop());
  await waitFor(() => watching.events.length === 3, { what: 'the watch to list the vessel pods' });

  // A release that also serves v2: the same pods now answer to both names.
  await kube.client.mergePatch('v1', 'Service', namespace, 'vessel', {
    metadata: { annotations: { 'berth.dev/proto-services': `${vesselV1},${vesselV2}` } },
  });
  assert.deepEqual(await offered(vesselV2, 'vessel'), vessels, 'the same pods serve v2');
  assert.deepEqual(serving(vesselV1), vessels, 'and still v1');
  const reannounced = watching.events.slice(3);
  const ids = (await registry.list('vessel')).map((instance) => instance.id).sort();
  assert.deepEqual(
    [...reannounced].sort(),
    [...ids.map((id) => `add:${id}`), ...ids.map((id) => `remove:${id}`)].sort(),
    'each pod removed and added again, once',
  );
  for (const id of ids) assert.ok(reannounced.indexOf(`remove:${id}`) < reannounced.indexOf(`add:${id}`));

  await kube.client.mergePatch('v1', 'Service', namespace, 'vessel', {
    metadata: { annotations: { 'berth.dev/proto-services': vesselV2 } },
  });
  await waitFor(() => serving(vesselV1).length === 0, { what: 'v1 to be served by nobody' });
  assert.deepEqual(serving(vesselV2), vessels);
  assert.deepEqual(serving('shippy.user.v1.UserService'), await readyPodAddresses('user'), 'user untouched');
});
