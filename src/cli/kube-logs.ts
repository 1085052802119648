/**
 * `berth logs <service> --cluster`: the logs of a service's pods on Kubernetes,
 * the branch of `berth logs` (whose local part reads `berth run`'s files) that
 * asks the API server instead. Short flags stay with the local command (-f is
 * --follow, -n is --tail there), so the target options are long-only here.
 */
import { type CommandIo, UsageError } from './command.ts';

export const clusterLogsOptions = {
  cluster: { type: 'boolean' },
  file: { type: 'string' },
  env: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string' },
} as const;

export const clusterLogsHelp: ReadonlyArray<readonly [string, string]> = [
  ['--cluster', 'the pods on Kubernetes instead (needs a service name)'],
  ['--file <path>', 'with --cluster: berth.yaml or its folder (default: current folder)'],
  ['--env <name>', 'with --cluster: environment overlay (required: dev or one berth.yaml defines)'],
  ['--context <name>', 'with --cluster: kubeconfig context (default: the current one)'],
  ['--namespace <name>', "with --cluster: namespace (default: the overlay's)"],
];

/** Prints each pod's log, prefixed with the pod; exits 1 when no pod's log could be read. */
export async function clusterLogs(
  positionals: readonly string[],
  values: Record<string, unknown>,
  tail: number,
  io: CommandIo,
): Promise<number> {
  if (positionals.length === 0)
    throw new UsageError('--cluster needs a service name: berth logs vessel --cluster');
  if (values.follow) throw new UsageError('--follow is not supported with --cluster');
  // Loaded here: local `berth logs` must not pay for the Kubernetes client.
  const { podLogs } = await import('../kube/operate.ts');
  const { connectCluster, loadTargetSystem } = await import('./kube-target.ts');
  const system = loadTargetSystem({ ...values, file: values.file ?? '.' }, io);
  const client = await connectCluster(values);
  let shown = 0;
  try {
    for (const service of positionals) {
      for (const pod of await podLogs(client, system, service, tail)) {
        if (pod.error !== undefined) {
          io.stderr.write(`${pod.pod}: ${pod.error}\n`);
          continue;
        }
        shown += 1;
        for (const line of pod.log!.split('\n')) if (line !== '') io.stdout.write(`${pod.pod} | ${line}\n`);
      }
    }
  } finally {
    await client.close();
  }
  return shown > 0 ? 0 : 1;
}
