/**
 * The in-cluster PostgreSQL and NATS as berth.yaml sizes them: requests and
 * limits on their containers, size and StorageClass on their volume claims, and
 * today's defaults when berth.yaml says nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { parseSystemFile } from '../config/system-file.ts';
import { renderResources } from './stateful-resources.ts';

const base = `
system: shop
resources:
  postgres: { embedded: true }
  nats: {}
services:
  orders: { uses: [postgres, nats] }
environments:
  production:
    resources:
      postgres:
        resources: { cpu: 500m, memory: 1Gi, limits: { memory: 2Gi } }
        storage: { size: 20Gi, className: fast-ssd }
      nats:
        storage: { size: 5Gi }
`;

function statefulSets(env?: string): Map<string, V1StatefulSet> {
  const system = parseSystemFile(base, { file: '/srv/shop/berth.yaml', label: 'berth.yaml', env });
  const objects = renderResources(system).filter((object) => object.kind === 'StatefulSet');
  return new Map(objects.map((object) => [object.metadata!.name!, object as V1StatefulSet]));
}

const containerResources = (statefulSet: V1StatefulSet) =>
  statefulSet.spec!.template.spec!.containers[0]!.resources;
const claim = (statefulSet: V1StatefulSet) => statefulSet.spec!.volumeClaimTemplates![0]!.spec;

test('without settings: each server requests what it idles at and claims 1Gi of the default class', () => {
  const { postgres, nats } = Object.fromEntries(statefulSets());
  assert.deepEqual(containerResources(postgres!), { requests: { cpu: '100m', memory: '256Mi' } });
  assert.deepEqual(containerResources(nats!), { requests: { cpu: '50m', memory: '64Mi' } });
  for (const statefulSet of [postgres!, nats!]) {
    assert.deepEqual(claim(statefulSet), {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
    });
  }
});

test('berth.yaml sets requests, limits, claim size and StorageClass per environment', () => {
  const { postgres, nats } = Object.fromEntries(statefulSets('production'));
  assert.deepEqual(containerResources(postgres!), {
    requests: { cpu: '500m', memory: '1Gi' },
    limits: { memory: '2Gi' },
  });
  assert.deepEqual(claim(postgres!), {
    accessModes: ['ReadWriteOnce'],
    storageClassName: 'fast-ssd',
    resources: { requests: { storage: '20Gi' } },
  });
  // A size alone keeps the default class and the default requests.
  assert.deepEqual(containerResources(nats!), { requests: { cpu: '50m', memory: '64Mi' } });
  assert.deepEqual(claim(nats!), {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '5Gi' } },
  });
});
