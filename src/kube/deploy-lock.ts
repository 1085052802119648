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
  /**
   * Aborts if the Lease is lost while held (another deploy took it after renewals
   * failed): the deploy must stop, as it no longer runs alone.
   */
  readonly lost: AbortSignal;
  /** Stops renewing and gives the Lease up; never throws: says what went wrong instead. */
  release(): Promise<string | undefined>;
}

export interface DeployLockOptions {
  /** How long the Lease holds without a renewal; default 60 s (renewed every third of it). */
  readonly durationSeconds?: number;
  /** Who takes it; default `user@host (pid N)`. */
  readonly holder?: string;
}

/** A deploy that did not start because of the cluster's state, not its release: nothing was changed. */
export class DeployRefusedError extends Error {}

/** Another deploy of the system holds the lock. */
export class DeployLockedError extends DeployRefusedError {}

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
  const lost = new AbortController();
  /**
   * A renewal refused for an old resourceVersion (its answer was lost, say) is
   * retried from the Lease as it is now, if it still names this holder; one that
   * names another means the Lease expired and was taken: the deploy is told.
   */
  const renew = async () => {
    try {
      current = await client.request<V1Lease>('PUT', path, {
        ...current,
        spec: { ...current.spec, renewTime: now() },
      });
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 409)) return; // retried at the next tick
      const fresh = await client
        .get<V1Lease>('coordination.k8s.io/v1', 'Lease', namespace, name)
        .catch(() => undefined);
      if (fresh?.spec?.holderIdentity === holder) {
        current = fresh;
        return;
      }
      // Not a refusal: this deploy may have changed things before it stopped.
      lost.abort(
        new Error(
          `lost the deploy lock of ${system} in namespace ${namespace}: ${fresh?.spec?.holderIdentity || 'nobody'} holds Lease ${name} now (this deploy's renewals failed for ${durationSeconds} s); check the cluster with "berth status", then deploy again`,
        ),
      );
    }
  };
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = renewing.then(renew);
    },
    (durationSeconds * 1000) / 3,
  );
  timer.unref();
  return {
    lost: lost.signal,
    async release() {
      clearInterval(timer);
      await renewing;
      if (lost.signal.aborted) return undefined;
      try {
        await client.request('PUT', path, {
          ...current,
          spec: { ...current.spec, holderIdentity: '', renewTime: now() },
        });
        return undefined;
      } catch (error) {
        return `could not release the deploy lock (${(error as Error).message}); it expires within ${durationSeconds} s`;
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
