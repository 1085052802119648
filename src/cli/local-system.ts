/**
 * What commands need to talk to a system running on this machine: its local
 * registry (the folder every process of `berth run` shares) and the health
 * endpoints of its instances.
 */
import { defaultLocalRegistryDir, LocalRegistry } from '../registry/local-registry.ts';
import type { ServiceInstance } from '../registry/registry.ts';
import { localRegistryDir } from '../runner/state.ts';
import type { CommandIo } from './command.ts';

/** Spread into a command's options so every command names the registry the same way. */
export const registryDirOption = { 'registry-dir': { type: 'string' } } as const;

/** The usage line of `--registry-dir`, for formatOptions. */
export const registryDirHelp = [
  '--registry-dir <dir>',
  `local registry folder (default: $BERTH_REGISTRY_DIR, else ${defaultLocalRegistryDir()})`,
] as const;

/** The local registry named by `--registry-dir`, else BERTH_REGISTRY_DIR, else the default folder. */
export function openLocalRegistry(values: Record<string, unknown>, io: CommandIo): LocalRegistry {
  // Flag, else BERTH_REGISTRY_DIR, else the system `berth run` runs for this folder.
  const dir =
    (values['registry-dir'] as string | undefined) ?? localRegistryDir({ cwd: io.cwd, env: io.env });
  return new LocalRegistry({ dir: dir || defaultLocalRegistryDir(io.env) });
}

/**
 * Instances of the system's own services, by name. `berth.*` names are berth's
 * plumbing (e.g. the direct broker's delivery endpoints), which serve no health
 * endpoints and are not something a user calls.
 */
export function servicesByName(instances: readonly ServiceInstance[]): Map<string, ServiceInstance[]> {
  const byName = new Map<string, ServiceInstance[]>();
  const sorted = [...instances].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  for (const instance of sorted) {
    if (instance.name.startsWith('berth.')) continue;
    byName.set(instance.name, [...(byName.get(instance.name) ?? []), instance]);
  }
  return byName;
}

/** Outcome of one GET to a health endpoint; `status` is absent when nothing answered. */
export interface Probe {
  readonly status?: number;
  readonly body?: unknown;
  /** Why nothing answered (refused, timed out). */
  readonly error?: string;
}

/** GET `path` of an instance, answered or not within `timeoutMs`. */
export async function probe(
  address: string,
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Probe> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(`http://${address}${path}`, {
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body };
  } catch (error) {
    return { error: timeout.aborted ? `no answer within ${timeoutMs} ms` : fetchFailure(error) };
  }
}

/** The reason under fetch's generic "fetch failed", e.g. `connection refused`. */
export function fetchFailure(error: unknown): string {
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  return cause?.message ?? (error as Error).message;
}

export type Readiness = 'ready' | 'not ready' | 'unreachable';

export interface ReadinessProbe {
  readonly readiness: Readiness;
  /** Failing checks (`name: reason`), or why the instance was unreachable. */
  readonly reasons: string[];
}

/** GET /readyz: 200 is ready; any other answer is not ready, with the checks that failed. */
export async function probeReadiness(
  address: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ReadinessProbe> {
  const result = await probe(address, '/readyz', timeoutMs, signal);
  if (result.status === undefined)
    return { readiness: 'unreachable', reasons: [result.error ?? 'no answer'] };
  if (result.status === 200) return { readiness: 'ready', reasons: [] };
  const checks = (result.body as { checks?: Record<string, string> } | undefined)?.checks;
  const reasons = checks
    ? Object.entries(checks)
        .filter(([, value]) => value !== 'ok')
        .map(([name, value]) => `${name}: ${value}`)
    : [];
  return { readiness: 'not ready', reasons: reasons.length > 0 ? reasons : [`HTTP ${result.status}`] };
}
