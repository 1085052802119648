import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KubernetesObject, V1Ingress, V1NetworkPolicy, V1Service } from '@kubernetes/client-node';
import type { GatewayIngressSpec, SystemFile } from '../config/system-file.ts';
import { loadSystemFile } from '../config/system-file.ts';
import { ingressUrl } from './ingress.ts';
import { renderManifests, toYaml } from './manifests.ts';
import { prunableKinds } from './prune.ts';
import { imageNames } from './release.ts';

const shippy = loadSystemFile(join(import.meta.dirname, '../../examples/shippy'), { env: 'production' });

const withIngress = (ingress: GatewayIngressSpec, system: SystemFile = shippy): SystemFile => ({
  ...system,
  gateway: { ...system.gateway, ingress },
});

function render(system: SystemFile): KubernetesObject[] {
  return renderManifests(system, {
    tags: Object.fromEntries(imageNames(system).map((name) => [name, 'r1'])),
  });
}

const find = <T extends KubernetesObject>(objects: KubernetesObject[], kind: string, name: string) =>
  objects.find((object) => object.kind === kind && object.metadata?.name === name) as T | undefined;

test('without gateway.ingress: no Ingress, and the gateway Service is a LoadBalancer (NodePort in dev)', () => {
  assert.equal(find(render(shippy), 'Ingress', 'gateway'), undefined);
  assert.equal(find<V1Service>(render(shippy), 'Service', 'gateway')?.spec?.type, 'LoadBalancer');
  const dev = { ...shippy, environment: 'dev' };
  assert.equal(find<V1Service>(render(dev), 'Service', 'gateway')?.spec?.type, 'NodePort');
});

test("an Ingress sends every path of its host to the gateway Service's http port, with the Secret's TLS", () => {
  const objects = render(
    withIngress({
      host: 'api.example.com',
      className: 'nginx',
      tls: { secretName: 'api-tls' },
      annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '1m' },
    }),
  );
  const ingress = find<V1Ingress>(objects, 'Ingress', 'gateway');
  assert.ok(ingress, 'Ingress/gateway is rendered');
  assert.equal(ingress.apiVersion, 'networking.k8s.io/v1');
  assert.equal(ingress.metadata?.namespace, shippy.namespace);
  assert.equal(ingress.metadata?.labels?.['app.kubernetes.io/managed-by'], 'berth');
  assert.equal(ingress.metadata?.labels?.['app.kubernetes.io/part-of'], 'shippy');
  assert.deepEqual(ingress.metadata?.annotations, { 'nginx.ingress.kubernetes.io/proxy-body-size': '1m' });
  assert.deepEqual(ingress.spec, {
    ingressClassName: 'nginx',
    tls: [{ hosts: ['api.example.com'], secretName: 'api-tls' }],
    rules: [
      {
        host: 'api.example.com',
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: 'gateway', port: { name: 'http' } } },
            },
          ],
        },
      },
    ],
  });
  // The port the Ingress names is one the gateway Service has; the Service stays inside the cluster.
  const service = find<V1Service>(objects, 'Service', 'gateway')!;
  assert.equal(service.spec?.type, 'ClusterIP');
  assert.deepEqual(
    service.spec?.ports?.map((port) => [port.name, port.port]),
    [['http', 80]],
  );
  assert.equal(ingressUrl(ingress), 'https://api.example.com');
  // Last, after the gateway's own objects.
  assert.equal(objects.at(-1), ingress);
});

test("a ClusterIssuer becomes cert-manager's annotation, with the Secret berth names; annotations sorted", () => {
  const ingress = find<V1Ingress>(
    render(
      withIngress({
        host: 'api.example.com',
        tls: { secretName: 'gateway-tls', clusterIssuer: 'letsencrypt' },
        annotations: { 'z.example.com/last': 'z', 'a.example.com/first': 'a' },
      }),
    ),
    'Ingress',
    'gateway',
  )!;
  assert.deepEqual(Object.entries(ingress.metadata?.annotations ?? {}), [
    ['a.example.com/first', 'a'],
    ['cert-manager.io/cluster-issuer', 'letsencrypt'],
    ['z.example.com/last', 'z'],
  ]);
  assert.deepEqual(ingress.spec?.tls, [{ hosts: ['api.example.com'], secretName: 'gateway-tls' }]);
  assert.equal('ingressClassName' in ingress.spec!, false, "unset: the cluster's default IngressClass");
});

test('without TLS: no tls, no annotations key, plain http; the same render gives the same bytes', () => {
  const system = withIngress({ host: 'api.example.com', annotations: {} });
  const ingress = find<V1Ingress>(render(system), 'Ingress', 'gateway')!;
  assert.equal('tls' in ingress.spec!, false);
  assert.equal('annotations' in ingress.metadata!, false);
  assert.equal(ingressUrl(ingress), 'http://api.example.com');
  assert.equal(toYaml(render(system)), toYaml(render(system)));
});

test('Ingress is a kind deploy prunes, and the public policy still admits the ingress controller', () => {
  assert.ok(
    prunableKinds.some(([apiVersion, kind]) => apiVersion === 'networking.k8s.io/v1' && kind === 'Ingress'),
  );
  const objects = render(withIngress({ host: 'api.example.com', annotations: {} }));
  // The controller runs in a namespace of its own: the gateway's port must stay open to any peer.
  const open = find<V1NetworkPolicy>(objects, 'NetworkPolicy', 'shippy-gateway-public')!;
  assert.deepEqual(open.spec?.ingress, [{ ports: [{ port: 'http2', protocol: 'TCP' }] }]);
});
