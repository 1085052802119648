import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KubernetesObject, V1Service } from '@kubernetes/client-node';
import { loadSystemFile, type SystemFile } from '../config/system-file.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import { renderManifests } from './manifests.ts';
import { prunableKinds, prune } from './prune.ts';
import { imageNames } from './release.ts';

const shippy = loadSystemFile(join(import.meta.dirname, '../../examples/shippy'), { env: 'production' });

const render = (system: SystemFile): KubernetesObject[] =>
  renderManifests(system, { tags: Object.fromEntries(imageNames(system).map((name) => [name, 'r1'])) });

test("an HTTPRoute attaches the gateway Service's http port to the named Gateways, for its hostnames", () => {
  const system: SystemFile = {
    ...shippy,
    gateway: {
      ...shippy.gateway,
      httpRoute: {
        parentRefs: [{ name: 'public', namespace: 'infra', sectionName: 'https' }, { name: 'internal' }],
        hostnames: ['api.example.com', '*.shippy.example.com'],
      },
    },
  };
  const objects = render(system);
  const route = objects.find((object) => object.kind === 'HTTPRoute');
  assert.deepEqual(route, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: 'gateway',
      namespace: shippy.namespace,
      labels: {
        'app.kubernetes.io/name': 'gateway',
        'app.kubernetes.io/part-of': 'shippy',
        'app.kubernetes.io/component': 'gateway',
        'app.kubernetes.io/managed-by': 'berth',
        'berth.dev/environment': 'production',
      },
    },
    spec: {
      parentRefs: [{ name: 'public', namespace: 'infra', sectionName: 'https' }, { name: 'internal' }],
      hostnames: ['api.example.com', '*.shippy.example.com'],
      rules: [{ backendRefs: [{ name: 'gateway', port: 80 }] }],
    },
  });
  assert.equal(objects.at(-1), route, 'last, after the gateway');
  const service = objects.find((object) => object.kind === 'Service' && object.metadata?.name === 'gateway');
  assert.equal((service as V1Service).spec?.type, 'ClusterIP', 'the Gateway is the public entry');
  assert.deepEqual(
    (service as V1Service).spec?.ports?.map((port) => port.port),
    [80],
  );
  assert.equal(
    render(shippy).some((object) => object.kind === 'HTTPRoute'),
    false,
    'none unless asked',
  );
  assert.ok(
    prunableKinds.some(
      ([apiVersion, kind]) => apiVersion === 'gateway.networking.k8s.io/v1' && kind === 'HTTPRoute',
    ),
  );
});

test('prune passes over HTTPRoutes on a cluster without the Gateway API, and only them', async () => {
  const listed: string[] = [];
  let failIngress = false;
  const missing = (kind: string) =>
    new KubeApiError(404, 'NotFound', 'the server could not find the requested resource', `GET ${kind}`);
  const client = {
    async list(apiVersion: string, kind: string) {
      listed.push(kind);
      if (
        kind === 'HTTPRoute' ||
        (apiVersion === 'networking.k8s.io/v1' && kind === 'Ingress' && failIngress)
      ) {
        throw missing(kind);
      }
      return { items: [] };
    },
  } as unknown as KubeClient;
  const release = { system: shippy, tags: {} };
  assert.deepEqual(await prune(client, release, []), []);
  assert.ok(listed.includes('HTTPRoute'));
  failIngress = true;
  await assert.rejects(prune(client, release, []), /NotFound/, 'a built-in kind missing is an error still');
});
