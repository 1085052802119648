/**
 * `berth deploy`: apply a release and see it through.
 *
 *  1. Namespace, then generated Secrets (created once, never overwritten, never rendered).
 *  2. Everything but workloads (RBAC, ConfigMaps, Services, PDBs, policies), server-side apply.
 *  3. Stateful dependencies (PostgreSQL, NATS) applied and waited for.
 *  4. Deployments applied; each whose spec changed is watched with live progress.
 *  5. If any rollout fails (progress deadline, crash loop, never ready): every
 *     Deployment this deploy changed is rolled back to its previous revision and
 *     waited for, and the result says why, per service.
 *  6. On success, objects the system no longer renders are pruned (only those
 *     labelled part-of=<system> and managed-by=berth), and the deploy is recorded
 *     in the history ConfigMap.
 * Re-applying an unchanged release changes no spec, so no new ReplicaSet appears.
 */
import { randomBytes } from 'node:crypto';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Deployment,
  V1Secret,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import { managedBy, type RenderOptions, renderManifests, requiredSecrets } from './manifests.ts';
import type { Progress } from './progress.ts';
import type { Release } from './release.ts';
import { revisionOf, undoRollout, waitForRollout } from './rollout.ts';

export interface DeployOptions {
  readonly client: KubeClient;
  readonly release: Release;
  readonly progress: Progress;
  /** How long each rollout may take before it counts as failed. */
  readonly timeoutMs?: number;
  readonly progressDeadlineSeconds?: number;
  readonly signal?: AbortSignal;
}

export type ServiceOutcome =
  | { readonly name: string; readonly result: 'unchanged' | 'updated'; readonly revision: number }
  | {
      readonly name: string;
      readonly result: 'failed';
      readonly reason: string;
      readonly rolledBackTo?: number;
    }
  | {
      readonly name: string;
      readonly result: 'rolled-back';
      readonly reason: string;
      readonly rolledBackTo?: number;
    };

export interface DeployResult {
  readonly ok: boolean;
  readonly deployNumber: number;
  readonly services: ServiceOutcome[];
  readonly pruned: string[];
}

export interface HistoryEntry {
  readonly deploy: number;
  readonly time: string;
  readonly environment: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly ok: boolean;
  readonly revisions: Readonly<Record<string, number>>;
}

const workloadKinds = new Set(['Deployment', 'StatefulSet']);
/** Kinds berth renders inside the namespace, hence the ones it may prune. */
const prunableKinds: Array<[string, string]> = [
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['v1', 'Service'],
  ['v1', 'ConfigMap'],
  ['v1', 'ServiceAccount'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
];

export const historyName = (system: string) => `${system}-berth-history`;

function key(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata?.name}`;
}

async function ensureSecrets(client: KubeClient, release: Release, progress: Progress): Promise<void> {
  const { system } = release;
  for (const [name, keys] of Object.entries(requiredSecrets(system))) {
    if (await client.get<V1Secret>('v1', 'Secret', system.namespace, name)) continue;
    const password = randomBytes(24).toString('base64url');
    const values: Record<string, string> = {
      password,
      url: `postgres://postgres:${password}@postgres.${system.namespace}.svc:5432/postgres`,
    };
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: system.namespace,
        labels: { 'app.kubernetes.io/part-of': system.system, 'app.kubernetes.io/managed-by': managedBy },
      },
      type: 'Opaque',
      stringData: Object.fromEntries(
        keys.map((secretKey) => [secretKey, values[secretKey] ?? randomBytes(32).toString('base64url')]),
      ),
    };
    await client.create(secret);
    progress.note(`created secret ${name} (generated; kept across deploys)`);
  }
}

async function waitForStatefulSet(
  client: KubeClient,
  object: V1StatefulSet,
  options: DeployOptions,
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  const name = object.metadata!.name!;
  while (true) {
    const current = await client.get<V1StatefulSet>(
      'apps/v1',
      'StatefulSet',
      object.metadata?.namespace,
      name,
    );
    const want = current?.spec?.replicas ?? 1;
    const ready = current?.status?.readyReplicas ?? 0;
    const fresh = (current?.status?.observedGeneration ?? 0) >= (current?.metadata?.generation ?? 1);
    options.progress.update(name, `${ready >= want && fresh ? '✓' : '…'} ${ready}/${want} ready`);
    if (ready >= want && fresh) return;
    if (Date.now() > deadline)
      throw new Error(`${name} did not become ready in time (${ready}/${want} ready)`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

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

async function recordHistory(client: KubeClient, release: Release, entry: HistoryEntry): Promise<void> {
  const { system } = release;
  const history = [...(await readHistory(client, system.system, system.namespace)), entry].slice(-20);
  const map: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: historyName(system.system),
      namespace: system.namespace,
      // Not part-of the system's rendered objects, so pruning never removes it.
      labels: { 'berth.dev/history': system.system },
    },
    data: { 'history.json': JSON.stringify(history, null, 2) },
  };
  await client.apply(map);
}

async function prune(client: KubeClient, release: Release, rendered: KubernetesObject[]): Promise<string[]> {
  const { system } = release;
  const wanted = new Set(rendered.map(key));
  const selector = `app.kubernetes.io/part-of=${system.system},app.kubernetes.io/managed-by=${managedBy}`;
  const pruned: string[] = [];
  for (const [apiVersion, kind] of prunableKinds) {
    const list = await client.list<KubernetesObject>(apiVersion, kind, system.namespace, selector);
    for (const object of list.items) {
      const id = `${kind}/${object.metadata?.name}`;
      if (wanted.has(id)) continue;
      await client.delete(apiVersion, kind, system.namespace, object.metadata!.name!);
      pruned.push(id);
    }
  }
  return pruned;
}

export async function deploy(
  options: DeployOptions,
  render: Partial<RenderOptions> = {},
): Promise<DeployResult> {
  const { client, release, progress } = options;
  const { system } = release;
  const objects = renderManifests(system, {
    tags: release.tags,
    progressDeadlineSeconds: options.progressDeadlineSeconds,
    ...render,
  });
  const namespace = objects.find((object) => object.kind === 'Namespace');
  if (namespace) await client.apply(namespace);
  await ensureSecrets(client, release, progress);

  for (const object of objects) {
    if (object.kind === 'Namespace' || workloadKinds.has(object.kind!)) continue;
    await client.apply(object);
  }
  for (const object of objects.filter((candidate) => candidate.kind === 'StatefulSet')) {
    await client.apply(object);
    await waitForStatefulSet(client, object as V1StatefulSet, options);
  }

  const deployments = objects.filter((object) => object.kind === 'Deployment') as V1Deployment[];
  const before = new Map<string, V1Deployment | undefined>();
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    before.set(name, await client.get<V1Deployment>('apps/v1', 'Deployment', system.namespace, name));
  }
  const changed: string[] = [];
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    const applied = await client.apply(deployment);
    const previous = before.get(name);
    if (!previous || (applied.metadata?.generation ?? 0) !== (previous.metadata?.generation ?? 0))
      changed.push(name);
  }
  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    if (!changed.includes(name))
      progress.update(name, `✓ unchanged (revision ${revisionOf(before.get(name))})`);
  }

  const timeoutMs = options.timeoutMs ?? 300_000;
  const states = await Promise.all(
    changed.map(async (name) => ({
      name,
      state: await waitForRollout(client, system.namespace, name, {
        timeoutMs,
        progress,
        label: name,
        signal: options.signal,
      }),
    })),
  );
  const failed = states.filter(({ state }) => state.phase === 'failed');
  const outcomes: ServiceOutcome[] = [];
  const revisions: Record<string, number> = {};
  const history = await readHistory(client, system.system, system.namespace);
  const deployNumber = (history.at(-1)?.deploy ?? 0) + 1;

  if (failed.length > 0) {
    progress.note(
      `rollout failed for ${failed.map(({ name }) => name).join(', ')}: rolling back every service this deploy changed`,
    );
    for (const name of changed) {
      const reason = failed.find((entry) => entry.name === name)?.state.detail;
      if (!before.get(name)) {
        outcomes.push({ name, result: 'failed', reason: reason ?? 'new service; nothing to roll back to' });
        continue;
      }
      try {
        const rolledBackTo = await undoRollout(client, system.namespace, name);
        const after = await waitForRollout(client, system.namespace, name, {
          timeoutMs,
          progress,
          label: `${name} (rollback)`,
          signal: options.signal,
        });
        const note = after.phase === 'complete' ? '' : `; rollback did not complete: ${after.detail}`;
        outcomes.push(
          reason
            ? { name, result: 'failed', reason: reason + note, rolledBackTo }
            : {
                name,
                result: 'rolled-back',
                reason: `rolled back because another service failed${note}`,
                rolledBackTo,
              },
        );
      } catch (error) {
        outcomes.push({
          name,
          result: 'failed',
          reason: `${reason ?? 'rolled back'}; rollback failed: ${(error as Error).message}`,
        });
      }
    }
    progress.end();
    await recordHistory(client, release, {
      deploy: deployNumber,
      time: new Date().toISOString(),
      environment: system.environment,
      tags: release.tags,
      ok: false,
      revisions,
    });
    return { ok: false, deployNumber, services: outcomes, pruned: [] };
  }

  for (const deployment of deployments) {
    const name = deployment.metadata!.name!;
    const current = await client.get<V1Deployment>('apps/v1', 'Deployment', system.namespace, name);
    revisions[name] = revisionOf(current);
    outcomes.push({
      name,
      result: changed.includes(name) ? 'updated' : 'unchanged',
      revision: revisions[name],
    });
  }
  const pruned = await prune(client, release, objects);
  for (const id of pruned) progress.note(`pruned ${id} (no longer in ${system.file})`);
  progress.end();
  await recordHistory(client, release, {
    deploy: deployNumber,
    time: new Date().toISOString(),
    environment: system.environment,
    tags: release.tags,
    ok: true,
    revisions,
  });
  return { ok: true, deployNumber, services: outcomes, pruned };
}

/** Server-side dry run of every rendered object: the API server validates without changing anything. */
export async function dryRun(
  client: KubeClient,
  release: Release,
): Promise<Array<{ object: string; error: string }>> {
  const objects = renderManifests(release.system, { tags: release.tags });
  const problems: Array<{ object: string; error: string }> = [];
  const namespace = objects.find((object) => object.kind === 'Namespace');
  // Namespaced objects can only be dry-run in a namespace that exists.
  if (namespace && !(await client.get('v1', 'Namespace', undefined, namespace.metadata!.name!)))
    await client.apply(namespace);
  for (const object of objects) {
    try {
      await client.apply(object, { dryRun: true });
    } catch (error) {
      problems.push({
        object: key(object),
        error: error instanceof KubeApiError ? error.message : String(error),
      });
    }
  }
  return problems;
}
