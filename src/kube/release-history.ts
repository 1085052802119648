/**
 * The deploy history of a system in a namespace: one ConfigMap
 * `<system>-berth-history` holding the last 20 deploys (tags, revisions, outcome),
 * written at the end of each deploy and of each canary promote or abort
 * (numbered in the same sequence: they change what runs as much as a deploy
 * does), read by the next of those and shown by `berth rollout history`.
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
  /** What changed the release; absent on a deploy (see actionOf). */
  readonly action?: Exclude<HistoryAction, 'deploy'>;
  /** The service and tag of the canary promoted or aborted. */
  readonly canary?: { readonly service: string; readonly tag: string };
  /** A failed deploy: whether undoing the release completed (absent on entries older than this field). */
  readonly undone?: boolean;
}

export type HistoryAction = 'deploy' | 'canary-promote' | 'canary-abort';

export const actionOf = (entry: HistoryEntry): HistoryAction => entry.action ?? 'deploy';

export type HistoryOutcome = 'ok' | 'rolled back' | 'failed';

/**
 * How an entry ended. A deploy that is not ok was rolled back, unless undoing it
 * did not complete (`undone: false`: deploy exited 5, failed); a canary promotion
 * that is not ok failed (its service was put back, the canary kept); an abort is
 * always ok.
 */
export function outcomeOf(entry: HistoryEntry): HistoryOutcome {
  if (entry.ok) return 'ok';
  return actionOf(entry) === 'deploy' && entry.undone !== false ? 'rolled back' : 'failed';
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

export interface CanaryOutcome {
  readonly action: NonNullable<HistoryEntry['action']>;
  readonly service: string;
  /** The canary's tag. */
  readonly tag: string;
  readonly ok: boolean;
  /** The service's Deployment revision afterwards. */
  readonly revision: number;
}

/**
 * Records a canary's promotion or abort as the next entry. Its tags are the last
 * successful entry's (or, with none, `release`'s) with, for a promotion,
 * the service at the canary's tag: what a failed deploy records too, the tags it
 * tried. Returns the entry's number.
 */
export async function recordCanaryOutcome(
  client: KubeClient,
  release: Release,
  { action, service, tag, ok, revision }: CanaryOutcome,
): Promise<number> {
  const { system } = release;
  const history = await readHistory(client, system.system, system.namespace);
  // A failed entry's tags are what it tried; what runs is the last successful one's.
  const tags = history.findLast((entry) => entry.ok)?.tags ?? release.tags;
  const entry: HistoryEntry = {
    deploy: (history.at(-1)?.deploy ?? 0) + 1,
    time: new Date().toISOString(),
    environment: system.environment,
    tags: action === 'canary-promote' ? { ...tags, [service]: tag } : tags,
    ok,
    revisions: { [service]: revision },
    action,
    canary: { service, tag },
  };
  await recordHistory(client, release, history, entry);
  return entry.deploy;
}
