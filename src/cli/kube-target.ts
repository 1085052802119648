/**
 * What the Kubernetes commands share: which system file, which environment
 * overlay, which cluster (kubeconfig context) and namespace.
 */
import { loadSystemFile, type SystemFile } from '../config/system-file.ts';
import { KubeClient } from '../kube/kube-client.ts';
import { createRelease, imageNames, parseTagOverrides, type Release } from '../kube/release.ts';
import { type CommandIo, UsageError } from './command.ts';

export const kubeOptions = {
  file: { type: 'string', short: 'f', default: '.' },
  env: { type: 'string', short: 'e' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
} as const;

export const kubeOptionsHelp = `  -f, --file <path>       berth.yaml or its folder (default: current folder)
  -e, --env <name>        environment overlay (required: dev or one berth.yaml defines)
      --context <name>    kubeconfig context (default: the current one; KUBECONFIG is honoured)
  -n, --namespace <name>  namespace (default: the overlay's, else the system name)`;

/**
 * The environment is always said, never assumed: a command that changes a
 * cluster must not default to production, and one that reads it must not
 * quietly read another environment's namespace.
 */
export function loadTargetSystem(values: Record<string, unknown>, io: CommandIo): SystemFile {
  const env = values.env as string | undefined;
  if (env === undefined) {
    const defined = loadSystemFile(values.file as string, { cwd: io.cwd }).environments;
    throw new UsageError(
      `say which environment: --env <name> (${['dev', ...defined.filter((name) => name !== 'dev')].join(', ')})`,
    );
  }
  const system = loadSystemFile(values.file as string, { env, cwd: io.cwd });
  if (!system.environments.includes(env) && env !== 'dev') {
    throw new Error(
      `${system.file} has no "${env}" environment; it defines: ${system.environments.join(', ') || 'none'}`,
    );
  }
  const namespace = values.namespace as string | undefined;
  return namespace ? { ...system, namespace } : system;
}

/** For commands that pick images (manifests, build, deploy, canary). */
export const releaseOptions = {
  ...kubeOptions,
  tag: { type: 'string', multiple: true },
} as const;

export const releaseOptionsHelp = `${kubeOptionsHelp}
      --tag <[name=]tag>  image tag instead of the content-derived one: for every
                          image, or for one (repeatable; e.g. --tag vessel=1.4.2)`;

export function loadTargetRelease(values: Record<string, unknown>, io: CommandIo): Release {
  const system = loadTargetSystem(values, io);
  const names = imageNames(system);
  try {
    return createRelease(system, parseTagOverrides((values.tag as string[] | undefined) ?? [], names));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export async function connectCluster(values: Record<string, unknown>): Promise<KubeClient> {
  return KubeClient.connect({ context: values.context as string | undefined });
}
