import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { parseSystemFile } from '../config/system-file.ts';
import { renderManifests } from './manifests.ts';
import { environmentLabel } from './object-meta.ts';

const systemFile = `
system: shippy
services:
  vessel:
    serves: []
    autoscale: { min: 2, max: 10, cpu: 70 }
  user: { serves: [], replicas: 3 }
environments:
  dev:
    services: { vessel: { autoscale: { min: 1, max: 3, cpu: 90 } } }
`;

const parse = (text: string, env?: string) =>
  parseSystemFile(text, { file: '/srv/shippy/berth.yaml', label: 'berth.yaml', env });

function render(text: string, env?: string): KubernetesObject[] {
  return renderManifests(parse(text, env), { tags: { gateway: 'r1', vessel: 'r1', user: 'r1' } });
}

function find<T extends KubernetesObject>(objects: KubernetesObject[], kind: string, name: string) {
  return objects.find((object) => object.kind === kind && object.metadata?.name === name) as T | undefined;
}

test('autoscale renders an autoscaling/v2 HPA on CPU, and the Deployment then sets no replicas', () => {
  const objects = render(systemFile, 'production');
  const hpa = find<V2HorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler', 'vessel');
  assert.ok(hpa, 'HorizontalPodAutoscaler/vessel is rendered');
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.equal(hpa.metadata?.labels?.[environmentLabel], 'production');
  assert.equal(hpa.metadata?.labels?.['app.kubernetes.io/name'], 'vessel');
  assert.deepEqual(hpa.spec, {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'vessel' },
    minReplicas: 2,
    maxReplicas: 10,
    metrics: [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      },
    ],
  });
  const vessel = find<V1Deployment>(objects, 'Deployment', 'vessel');
  assert.ok(vessel?.spec && !Object.hasOwn(vessel.spec, 'replicas'), 'no spec.replicas for apply to own');
  assert.equal(
    vessel.spec.template.spec?.topologySpreadConstraints?.[0]?.topologyKey,
    'kubernetes.io/hostname',
    'spread: it may run several replicas',
  );
  assert.ok(find(objects, 'PodDisruptionBudget', 'vessel'), 'a PDB: min 2 means never fewer than 2 pods');
  // A service with fixed replicas keeps them and gets no HPA.
  assert.equal(find<V1Deployment>(objects, 'Deployment', 'user')?.spec?.replicas, 3);
  assert.equal(find(objects, 'HorizontalPodAutoscaler', 'user'), undefined);
});

test('an environment overlays autoscale; with min 1 there is no PDB', () => {
  const objects = render(systemFile, 'dev');
  const hpa = find<V2HorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler', 'vessel');
  assert.equal(hpa?.spec?.minReplicas, 1);
  assert.equal(hpa?.spec?.maxReplicas, 3);
  assert.equal(hpa?.spec?.metrics?.[0]?.resource?.target.averageUtilization, 90);
  assert.equal(find(objects, 'PodDisruptionBudget', 'vessel'), undefined);
  assert.equal(parse(systemFile, 'dev').services.vessel?.replicas, 1, 'locally: min instances');
});

test('autoscale it cannot take is refused, naming the service and the keys', () => {
  const service = (body: string, overlay = '') => `system: shippy\nservices:\n  vessel: ${body}\n${overlay}`;
  const cases: Array<[string, RegExp]> = [
    [
      service('{ autoscale: { min: 3, max: 2, cpu: 50 } }'),
      /services\.vessel\.autoscale.*min \(3\) must not exceed max \(2\)/s,
    ],
    [service('{ autoscale: { min: 1, max: 2, cpu: 101 } }'), /services\.vessel\.autoscale\.cpu/],
    [service('{ autoscale: { min: 0, max: 2, cpu: 50 } }'), /services\.vessel\.autoscale\.min/],
    [service('{ autoscale: { min: 1, max: 2 } }'), /services\.vessel\.autoscale\.cpu/],
    [
      service('{ replicas: 2, autoscale: { min: 1, max: 2, cpu: 50 } }'),
      /services\.vessel\.replicas.*service "vessel" sets both replicas and autoscale/s,
    ],
    [
      service(
        '{ replicas: 2 }',
        'environments:\n  production:\n    services: { vessel: { autoscale: { min: 1, max: 4, cpu: 50 } } }\n',
      ),
      /environments\.production\.services\.vessel\.autoscale.*service "vessel" sets both replicas and autoscale/s,
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parse(text),
      (error: Error) => message.test(error.message),
      text,
    );
  }
});
