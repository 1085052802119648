/**
 * A system's objects as the API server has them, for tests that check a
 * rollback put every one back (rollback.test.ts, bake.test.ts).
 */
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from '../../src/kube/kube-client.ts';
import { prunableKinds } from '../../src/kube/prune.ts';

/**
 * Every object of the system as the API server has it, by `Kind/name`, without
 * what changes on any write (uid, resourceVersion, generation, managedFields,
 * timestamps, status) and the revision number the Deployment controller counts
 * up on a rollback: spec, data, rules, labels and annotations stay.
 */
export async function systemObjects(client: KubeClient, namespace: string): Promise<Map<string, unknown>> {
  const objects = new Map<string, unknown>();
  for (const [apiVersion, kind] of prunableKinds) {
    const list = await client.list<KubernetesObject & { status?: unknown }>(
      apiVersion,
      kind,
      namespace,
      'app.kubernetes.io/part-of=shippy,app.kubernetes.io/managed-by=berth',
    );
    for (const object of list.items) {
      const { labels, annotations = {} } = object.metadata!;
      const { 'deployment.kubernetes.io/revision': _revision, ...kept } = annotations;
      const { metadata: _metadata, status: _status, ...rest } = object;
      objects.set(`${kind}/${object.metadata!.name}`, { labels, annotations: kept, ...rest });
    }
  }
  return objects;
}

export function assertSameObjects(actual: Map<string, unknown>, expected: Map<string, unknown>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), 'the same objects');
  for (const [key, object] of expected) assert.deepEqual(actual.get(key), object, key);
}
