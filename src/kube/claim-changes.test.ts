/**
 * A StatefulSet's claims cannot change once it exists: a claim rendered with
 * another size or class than the cluster's StatefulSet is reported with what to
 * do, and the same size written another way is no change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { claimChange, quantityValue } from './claim-changes.ts';

function statefulSet(storage: string, storageClassName?: string): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'postgres', namespace: 'shop' },
    spec: {
      replicas: 1,
      serviceName: 'postgres',
      selector: { matchLabels: { app: 'postgres' } },
      template: {},
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(storageClassName ? { storageClassName } : {}),
            resources: { requests: { storage } },
          },
        },
      ],
    },
  };
}

test('quantities compare by value, however they are written', () => {
  assert.equal(quantityValue('1Gi'), quantityValue('1024Mi'));
  assert.equal(quantityValue('1G'), 1e9);
  assert.equal(quantityValue('1e9'), 1e9);
  assert.equal(quantityValue('1.5Ki'), 1536);
  assert.equal(quantityValue('500m'), 0.5);
  assert.ok(Number.isNaN(quantityValue('lots')));
});

test('no StatefulSet yet, or the same claim: nothing to refuse', () => {
  assert.equal(claimChange(undefined, statefulSet('10Gi')), undefined);
  assert.equal(claimChange(statefulSet('1Gi'), statefulSet('1024Mi')), undefined);
  assert.equal(claimChange(statefulSet('1Gi', 'fast'), statefulSet('1Gi', 'fast')), undefined);
});

test('a bigger claim: refused, saying how to expand the claim and recreate the StatefulSet', () => {
  assert.equal(
    claimChange(statefulSet('1Gi'), statefulSet('10Gi')),
    'resources.postgres.storage asks 10Gi of the default class for claim "data", but the cluster\'s ' +
      "StatefulSet was made with 1Gi of the default class, and a StatefulSet's volumeClaimTemplates cannot change. " +
      'To grow it, expand the claim itself (its StorageClass must allow volume expansion): ' +
      '`kubectl -n shop patch pvc data-postgres-0 -p \'{"spec":{"resources":{"requests":{"storage":"10Gi"}}}}\'`, ' +
      'then `kubectl -n shop delete statefulset postgres --cascade=orphan` (its pod and claim stay) and deploy again.',
  );
});

test('a smaller claim or another class: refused, with what can be done', () => {
  assert.match(
    claimChange(statefulSet('10Gi'), statefulSet('5Gi'))!,
    /asks 5Gi .* made with 10Gi .* A claim cannot shrink: set resources\.postgres\.storage\.size back to 10Gi\.$/,
  );
  assert.match(
    claimChange(statefulSet('1Gi'), statefulSet('1Gi', 'fast'))!,
    /asks 1Gi of class fast .* made with 1Gi of the default class, .* A claim's class cannot change: .*delete pvc data-postgres-0.*or set resources\.postgres\.storage\.className back\.$/,
  );
});
