/**
 * berth.yaml `gateway.ingress` on the test cluster: the Ingress berth renders
 * (with cert-manager's issuer, a class and annotations) passes the strict
 * server-side dry run with the rest of shippy; `berth status` prints its URL; and
 * a deploy whose berth.yaml drops the ingress prunes it. No ingress controller
 * runs on KWOK, so the address is set by hand, as a controller would. An
 * HTTPRoute passes the same dry run once the Gateway API's CRD is installed.
 * Last, a whole deploy with the Ingress, twice: the second changes nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Ingress, V1Service } from '@kubernetes/client-node';
import { loadSystemFile, type SystemFile } from '../../src/config/system-file.ts';
import { dryRun } from '../../src/kube/dry-run.ts';
import { gatewayAddress } from '../../src/kube/gateway-address.ts';
import { prune } from '../../src/kube/prune.ts';
import { createRelease } from '../../src/kube/release.ts';
import { berth, renderTagged, shippyNamespace, show } from './cluster.ts';
import { installHttpRouteCrd } from './gateway-api.ts';

const ingress = {
  host: 'shippy.example.test',
  className: 'nginx',
  tls: { clusterIssuer: 'letsencrypt' },
  annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '1m' },
};

let system: SystemFile;
const kube = shippyNamespace('berth-ingress', {
  volumes: true,
  copy: { registry: 'registry.test/shippy' },
  setup() {
    kube.shippy.edit((file) => {
      file.environments.test!.gateway = { ...(file.environments.test!.gateway as object), ingress };
    });
    system = loadSystemFile(kube.shippy.file, { env: 'test' });
  },
});
const { namespace } = kube;

const isGateway = (object: KubernetesObject) =>
  object.metadata?.labels?.['app.kubernetes.io/name'] === 'gateway';

/** The system as berth.yaml would have it without `gateway.ingress`. */
const withoutIngress = (): SystemFile => {
  const { ingress: _, ...gateway } = system.gateway;
  return { ...system, gateway };
};

/** Applies the namespace and the gateway's objects (all this file needs) as `target` renders them. */
async function applyGateway(target: SystemFile): Promise<KubernetesObject[]> {
  const objects = renderTagged(target).filter((object) => object.kind === 'Namespace' || isGateway(object));
  for (const object of objects) await kube.client.apply(object);
  return objects;
}

test('shippy with an Ingress (TLS by cert-manager) passes the strict server-side dry run', async () => {
  const release = createRelease(system);
  const rendered = renderTagged(system).find((object) => object.kind === 'Ingress') as V1Ingress;
  assert.equal(rendered.metadata?.annotations?.['cert-manager.io/cluster-issuer'], 'letsencrypt');
  assert.deepEqual(rendered.spec?.tls, [{ hosts: ['shippy.example.test'], secretName: 'gateway-tls' }]);
  const { problems } = await dryRun(kube.client, release);
  assert.deepEqual(problems, [], 'the API server accepts every object as rendered, the Ingress included');

  // The same dry run rejects a misspelt Ingress field: otherwise accepting proves nothing.
  const misspelt = structuredClone(rendered) as unknown as {
    spec: { rules: Array<Record<string, unknown>> };
  };
  misspelt.spec.rules[0]!.hosts = misspelt.spec.rules[0]!.host;
  await assert.rejects(
    kube.client.apply(misspelt as unknown as KubernetesObject, { dryRun: true }),
    /hosts: field not declared in schema/,
  );
});

test('the LoadBalancer becomes ClusterIP behind the Ingress; berth status prints https://<host>', async () => {
  await applyGateway(withoutIngress());
  await applyGateway(system);
  const service = await kube.client.get<V1Service>('v1', 'Service', namespace, 'gateway');
  assert.equal(service?.spec?.type, 'ClusterIP', 'a server-side apply changes the type of the Service');
  assert.deepEqual(await gatewayAddress(kube.client, system), {
    url: 'https://shippy.example.test',
    note: 'Ingress (class nginx), no address yet: no ingress controller has admitted it',
  });
  await kube.client.request(
    'PATCH',
    `${kube.client.path('networking.k8s.io/v1', 'Ingress', namespace, 'gateway')}/status`,
    { status: { loadBalancer: { ingress: [{ ip: '203.0.113.20' }] } } },
    'application/merge-patch+json',
  );
  const address = (await gatewayAddress(kube.client, system))!;
  assert.deepEqual(address, {
    url: 'https://shippy.example.test',
    note: 'Ingress (class nginx) at 203.0.113.20',
  });
  const status = await berth(kube.cluster, ['status', '-f', kube.shippy.dir, '--env', 'test']);
  assert.ok(status.stdout.includes(`\ngateway: ${address.url} (${address.note})\n`), show(status));
});

test('a release without the ingress prunes it, and the gateway is found through its Service again', async () => {
  const without = withoutIngress();
  const rendered = await applyGateway(without);
  const pruned = await prune(kube.client, createRelease(without), rendered);
  assert.deepEqual(pruned, [{ kind: 'Ingress', name: 'gateway' }]);
  assert.equal(await kube.client.get('networking.k8s.io/v1', 'Ingress', namespace, 'gateway'), undefined);
  // Back to a LoadBalancer, which KWOK never gives an address.
  assert.match((await gatewayAddress(kube.client, without))!.note, /^LoadBalancer pending/);
});

test('an HTTPRoute instead passes the strict dry run once the Gateway API CRD is installed', async () => {
  await installHttpRouteCrd(kube.client, namespace);
  const { ingress: _, ...gateway } = system.gateway;
  const routed: SystemFile = {
    ...system,
    gateway: {
      ...gateway,
      httpRoute: {
        parentRefs: [{ name: 'public', namespace: 'infra', sectionName: 'https' }],
        hostnames: ['shippy.example.test'],
      },
    },
  };
  const { problems } = await dryRun(kube.client, createRelease(routed));
  assert.deepEqual(problems, [], 'the API server accepts every object as rendered, the HTTPRoute included');
  const route = structuredClone(renderTagged(routed).find((object) => object.kind === 'HTTPRoute')!);
  (route as unknown as { spec: Record<string, unknown> }).spec.hostname = 'shippy.example.test';
  await assert.rejects(kube.client.apply(route, { dryRun: true }), /hostname: field not declared in schema/);
});

test('berth deploy with the ingress: deployed, then nothing changed (the API server keeps the Ingress as rendered)', async () => {
  const deploy = () =>
    berth(kube.cluster, [
      'deploy',
      '-f',
      kube.shippy.dir,
      '--env',
      'test',
      '--progress-deadline',
      '8',
      '--tag',
      'r1',
    ]);
  const first = await deploy();
  assert.equal(first.code, 0, show(first));
  const applied = await kube.client.get<V1Ingress>('networking.k8s.io/v1', 'Ingress', namespace, 'gateway');
  assert.deepEqual(applied?.spec?.tls, [{ hosts: ['shippy.example.test'], secretName: 'gateway-tls' }]);
  const second = await deploy();
  assert.equal(second.code, 4 /* nothing changed */, show(second));
});
