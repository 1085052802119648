/**
 * One `berth deploy` at a time per system and namespace, as Helm's release lock
 * and Argo's sync do it: a coordination.k8s.io Lease `<system>-deploy`, taken
 * with the API server's optimistic concurrency (create, or replace at the
 * resourceVersion read), renewed while the deploy runs, and released at its end.
 * A second deploy is refused, naming the holder. A CLI killed mid-deploy stops
 * renewing; its Lease expires after `durationSeconds` and the next deploy takes it.
 */
import { hostname, userInfo } from 'node:os';
import type { V1Lease } from '@kubernetes/client-node';
import { KubeApiError, type KubeClient } from './kube-client.ts';

export interface DeployLock {
  /** Stops renewing and gives the Lease up. */
  release(): Promise<void>;
}

export interface DeployLockOptions {
  /** How long the Lease holds without a renewal; default 60 s (renewed every third of it). */
  readonly durationSeconds?: number;
  /** Who takes it; default `user@host (pid N)`. */
  readonly holder?: string;
}

export class DeployLockedError extends Error {}

export function deployLockName(system: string): string {
  return `${system}-deploy`;
}

/** Takes the Lease, or throws DeployLockedError naming who holds it and until when. */
export async function acquireDeployLock(
  client: KubeClient,
  system: string,
  namespace: string,
  options: DeployLockOptions = {},
): Promise<DeployLock> {
  const durationSeconds = options.durationSeconds ?? 60;
  const holder = options.holder ?? `${safeUser()}@${hostname()} (pid ${process.pid})`;
  const name = deployLockName(system);
  const path = client.path('coordination.k8s.io/v1', 'Lease', namespace, name);
  const now = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  const spec = () => ({ holderIdentity: holder, leaseDurationSeconds: durationSeconds, renewTime: now() });

  let lease: V1Lease;
  try {
    const existing = await client.get<V1Lease>('coordination.k8s.io/v1', 'Lease', namespace, name);
    if (existing === undefined) {
      lease = await client.request<V1Lease>(
        'POST',
        client.path('coordination.k8s.io/v1', 'Lease', namespace),
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': system } },
          spec: { ...spec(), acquireTime: now() },
        },
      );
    } else {
      const held = heldUntil(existing);
      if (existing.spec?.holderIdentity && held !== undefined && held > Date.now()) {
        throw new DeployLockedError(
          `another deploy of ${system} in namespace ${namespace} is running: ${existing.spec.holderIdentity} holds Lease ${name} since ${existing.spec.acquireTime ?? 'an unknown time'}. ` +
            `Wait for it to finish; if that deploy was killed, its lock expires at ${new Date(held).toISOString()}.`,
        );
      }
      // Free, or its holder stopped renewing: taken over at the version read.
      lease = await client.request<V1Lease>('PUT', path, {
        ...existing,
        spec: { ...existing.spec, ...spec(), acquireTime: now() },
      });
    }
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 409) {
      throw new DeployLockedError(
        `another deploy of ${system} in namespace ${namespace} took Lease ${name} at the same moment; try again when it has finished`,
      );
    }
    throw error;
  }

  let current = lease;
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = client
        .request<V1Lease>('PUT', path, { ...current, spec: { ...current.spec, renewTime: now() } })
        .then((renewed) => {
          current = renewed;
        })
        .catch(() => {
          // A missed renewal is retried at the next tick; the Lease holds for three of them.
        });
    },
    (durationSeconds * 1000) / 3,
  );
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await renewing;
      try {
        await client.request('PUT', path, {
          ...current,
          spec: { ...current.spec, holderIdentity: '', renewTime: now() },
        });
      } catch (error) {
        // Someone took it over (it had expired): theirs now.
        if (!(error instanceof KubeApiError && error.status === 409)) throw error;
      }
    },
  };
}

/** When the Lease stops holding: its last renewal plus its duration. */
function heldUntil(lease: V1Lease): number | undefined {
  const renewed = lease.spec?.renewTime ?? lease.spec?.acquireTime;
  const seconds = lease.spec?.leaseDurationSeconds;
  if (renewed === undefined || seconds === undefined) return undefined;
  return new Date(renewed as unknown as string).getTime() + seconds * 1000;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
