/**
 * `berth status` says where the gateway answers from this machine, for each
 * kind of gateway Service: a LoadBalancer still pending (its NodePort meanwhile),
 * one with an address, a NodePort, and a ClusterIP (port-forward). The URLs'
 * shape only: nothing listens on KWOK's nodes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { loadSystemFile, type SystemFile } from '../../src/config/system-file.ts';
import { gatewayAddress } from '../../src/kube/gateway-address.ts';
import { berth, renderTagged, shippyNamespace, show } from './cluster.ts';

let system: SystemFile;
const kube = shippyNamespace('berth-gateway', {
  copy: { registry: 'registry.test/shippy' },
  async setup() {
    system = loadSystemFile(kube.shippy.file, { env: 'test' });
    // The namespace and the gateway (its Service a LoadBalancer, as in production) are all this needs.
    for (const object of renderTagged(system))
      if (object.kind === 'Namespace' || object.metadata?.labels?.['app.kubernetes.io/name'] === 'gateway')
        await kube.client.apply(object);
  },
});
const { namespace } = kube;

const gatewayService = async () => (await kube.client.get<V1Service>('v1', 'Service', namespace, 'gateway'))!;

/** The URL is `http://<InternalIP>:<nodePort>` of a Ready node, a real one if the cluster has any. */
async function assertNodePortUrl(url: string | undefined, note: string): Promise<void> {
  const nodePort = (await gatewayService()).spec!.ports![0]!.nodePort!;
  const node = new RegExp(`NodePort ${nodePort} on node ([\\w.-]+)`).exec(note)?.[1];
  assert.ok(node, note);
  const nodes = (await kube.client.list<V1Node>('v1', 'Node', undefined)).items;
  const named = nodes.find((candidate) => candidate.metadata!.name === node)!;
  const ip = named.status!.addresses!.find((address) => address.type === 'InternalIP')!.address;
  assert.equal(url, `http://${ip}:${nodePort}`);
  assert.ok(
    named.status!.conditions!.some((c) => c.type === 'Ready' && c.status === 'True'),
    `${node} is Ready`,
  );
  const isFake = (candidate: V1Node) => candidate.metadata!.annotations?.['kwok.x-k8s.io/node'] === 'fake';
  if (isFake(named)) assert.ok(nodes.every(isFake), 'a fake node only when there is no real one');
}

test('a pending LoadBalancer: its NodePort meanwhile, printed by berth status', async () => {
  const address = (await gatewayAddress(kube.client, system))!;
  assert.match(
    address.note,
    /^LoadBalancer pending: no external address yet; meanwhile NodePort \d+ on node /,
  );
  await assertNodePortUrl(address.url, address.note);

  const status = await berth(kube.cluster, ['status', '-f', kube.shippy.dir, '--env', 'test']);
  assert.match(status.stdout, /^gateway\s/m, show(status));
  assert.ok(status.stdout.includes(`\ngateway: ${address.url} (${address.note})\n`), show(status));
  const json = await berth(kube.cluster, ['status', '-f', kube.shippy.dir, '--env', 'test', '--json']);
  assert.equal(json.code, 0, show(json));
  const parsed = JSON.parse(json.stdout) as { workloads: Array<{ name: string }>; gateway: unknown };
  assert.deepEqual(parsed.gateway, address);
  assert.deepEqual(
    parsed.workloads.map((workload) => workload.name),
    ['gateway'],
  );
});

test('a LoadBalancer with an address: http://<ingress>:<port>', async () => {
  const setIngress = (ingress: Array<{ ip?: string; hostname?: string }>) =>
    kube.client.request(
      'PATCH',
      `${kube.client.path('v1', 'Service', namespace, 'gateway')}/status`,
      { status: { loadBalancer: { ingress } } },
      'application/merge-patch+json',
    );
  await setIngress([{ ip: '203.0.113.10' }]);
  assert.deepEqual(await gatewayAddress(kube.client, system), {
    url: 'http://203.0.113.10:80',
    note: 'LoadBalancer',
  });
  await setIngress([{ hostname: 'gateway.example.test' }]);
  assert.deepEqual(await gatewayAddress(kube.client, system), {
    url: 'http://gateway.example.test:80',
    note: 'LoadBalancer',
  });
});

test('a NodePort: a node of the cluster; a ClusterIP: only inside it, with the port-forward to use', async () => {
  await kube.client.mergePatch('v1', 'Service', namespace, 'gateway', { spec: { type: 'NodePort' } });
  const nodePort = (await gatewayAddress(kube.client, system))!;
  assert.match(nodePort.note, /^NodePort \d+ on node /);
  await assertNodePortUrl(nodePort.url, nodePort.note);

  await kube.client.mergePatch('v1', 'Service', namespace, 'gateway', { spec: { type: 'ClusterIP' } });
  assert.deepEqual(await gatewayAddress(kube.client, system), {
    url: undefined,
    note:
      'a ClusterIP Service is reachable only inside the cluster; from here: ' +
      `kubectl port-forward -n ${namespace} service/gateway 8080:80, then http://localhost:8080`,
  });
});
