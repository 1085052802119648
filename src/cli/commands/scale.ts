import { refuseAutoscaled, scale } from '../../kube/operate.ts';
import { createProgress } from '../../kube/progress.ts';
import { waitForRollout } from '../../kube/rollout.ts';
import { type Command, integerOption, UsageError } from '../command.ts';
import { connectCluster, kubeOptions, kubeOptionsHelp, loadTargetSystem } from '../kube-target.ts';

export const scaleCommand: Command = {
  name: 'scale',
  usage: `Usage: berth scale <service>=<replicas> [...]

Sets the replicas now and waits, showing progress, until each service has them
ready; exits 1 if one does not within the timeout (say, pods that cannot be
scheduled). The next "berth deploy" applies berth.yaml's replicas again.
A service with autoscale in berth.yaml is refused: change its min/max instead.

      --timeout <seconds> how long to wait per service (default 300)
${kubeOptionsHelp}`,
  options: { ...kubeOptions, timeout: { type: 'string', default: '300' } },
  async run({ positionals, values }, io) {
    if (positionals.length === 0) throw new UsageError('expected at least one <service>=<replicas>');
    const targets = positionals.map((argument) => {
      const match = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(argument);
      if (!match) throw new UsageError(`"${argument}" is not <service>=<replicas>, e.g. vessel=3`);
      return { name: match[1], replicas: Number(match[2]) };
    });
    const timeoutMs = integerOption(values, 'timeout', 'seconds', 1)! * 1000;
    const system = loadTargetSystem(values, io);
    // All refused before anything changes: not some services scaled and the rest not.
    for (const target of targets) refuseAutoscaled(system, target.name);
    const client = await connectCluster(values);
    try {
      for (const target of targets) await scale(client, system, target.name, target.replicas);
      const progress = createProgress(io.stdout, io.isTty);
      let failed = 0;
      for (const target of targets) {
        const state = await waitForRollout(client, system.namespace, target.name, {
          timeoutMs,
          progress,
          label: target.name,
          signal: io.signal,
        });
        progress.end();
        if (state.phase === 'complete') io.stdout.write(`${target.name}: scaled to ${target.replicas}\n`);
        else {
          failed += 1;
          io.stderr.write(`${target.name}: not scaled to ${target.replicas}: ${state.detail}\n`);
        }
      }
      return failed === 0 ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};
