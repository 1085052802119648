/**
 * A system's objects as the API server has them, for tests that check a
 * rollback put every one back (rollback.test.ts, bake.test.ts).
 */
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from '../../src/kube/kube-client.ts';
import { berthObjects } from '../../src/kube/prune.ts';

/**
 * Every object of the system as the API server has it, by `Kind/name`, without
 * what changes on any write (uid, resourceVersion, generation, managedFields,
 * timestamps, status) and the revision number the Deployment controller counts
 * up on a rollback: spec, data, rules, labels and annotations stay.
 */
export async function systemObjects(client: KubeClient, namespace: string): Promise<Map<string, unknown>> {
  const objects = new Map<string, unknown>();
  for (const { kind, items } of await berthObjects(client, 'shippy', namespace)) {
    for (const object of items as Array<KubernetesObject & { status?: unknown }>) {
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
