import { createProgress } from '../../kube/progress.ts';
import { undoRollout, waitForRollout } from '../../kube/rollout.ts';
import { type Command, integerOption, UsageError } from '../command.ts';
import { connectCluster, kubeOptions, kubeOptionsHelp, loadTargetSystem } from '../kube-target.ts';

export const rolloutCommand: Command = {
  name: 'rollout',
  usage: `Usage: berth rollout undo <service> [--to-revision n]

${kubeOptionsHelp}
      --to-revision <n>   revision to restore (default: the one before the current)`,
  options: { ...kubeOptions, 'to-revision': { type: 'string' } },
  async run({ positionals, values }, io) {
    const [action, service] = positionals;
    if (action !== 'undo' || !service) throw new UsageError('expected: berth rollout undo <service>');
    const to = integerOption(values, 'to-revision', 'a revision number', 1);
    const system = loadTargetSystem(values, io);
    const client = await connectCluster(values);
    try {
      const restored = await undoRollout(client, system.namespace, service, to);
      io.stdout.write(`${service}: restoring revision ${restored}\n`);
      const state = await waitForRollout(client, system.namespace, service, {
        timeoutMs: 300_000,
        progress: createProgress(io.stdout, io.isTty),
        label: service,
        signal: io.signal,
      });
      io.stdout.write(`${service}: ${state.phase} (${state.detail})\n`);
      return state.phase === 'complete' ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};
