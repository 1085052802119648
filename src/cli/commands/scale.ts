import { scale } from '../../kube/operate.ts';
import { type Command, UsageError } from '../command.ts';
import { connectCluster, kubeOptions, kubeOptionsHelp, loadTargetSystem } from '../kube-target.ts';

export const scaleCommand: Command = {
  name: 'scale',
  usage: `Usage: berth scale <service>=<replicas> [...]

${kubeOptionsHelp}`,
  options: kubeOptions,
  async run({ positionals, values }, io) {
    if (positionals.length === 0) throw new UsageError('expected at least one <service>=<replicas>');
    const targets = positionals.map((argument) => {
      const match = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(argument);
      if (!match) throw new UsageError(`"${argument}" is not <service>=<replicas>, e.g. vessel=3`);
      return { name: match[1], replicas: Number(match[2]) };
    });
    const system = loadTargetSystem(values, io);
    const client = await connectCluster(values);
    try {
      for (const target of targets) {
        await scale(client, system, target.name, target.replicas);
        io.stdout.write(`${target.name}: scaled to ${target.replicas}\n`);
      }
      return 0;
    } finally {
      await client.close();
    }
  },
};
