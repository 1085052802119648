/**
 * The deploy history of a system in a namespace: one ConfigMap
 * `<system>-berth-history` holding the last 20 deploys (tags, revisions, outcome),
 * read by `berth status` and `berth rollout`, written at the end of each deploy.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client.ts';
import type { Release } from './release.ts';

export interface HistoryEntry {
  readonly deploy: number;
  readonly time: string;
  readonly environment: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly ok: boolean;
  readonly revisions: Readonly<Record<string, number>>;
}

const historyName = (system: string) => `${system}-berth-history`;

export async function readHistory(
  client: KubeClient,
  system: string,
  namespace: string,
): Promise<HistoryEntry[]> {
  const map = await client.get<V1ConfigMap>('v1', 'ConfigMap', namespace, historyName(system));
  try {
    return JSON.parse(map?.data?.['history.json'] ?? '[]') as HistoryEntry[];
  } catch {
    return [];
  }
}

/** Appends `entry` to the history read at the start of this deploy (keeping the last 20). */
export async function recordHistory(
  client: KubeClient,
  release: Release,
  history: readonly HistoryEntry[],
  entry: HistoryEntry,
): Promise<void> {
  const { system } = release;
  const kept = [...history, entry].slice(-20);
  const map: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: historyName(system.system),
      namespace: system.namespace,
      // Not part-of the system's rendered objects, so pruning never removes it.
      labels: { 'berth.dev/history': system.system },
    },
    data: { 'history.json': JSON.stringify(kept, null, 2) },
  };
  await client.apply(map);
}
