import { abortCanary, promoteCanary, startCanary } from '../../kube/operate.ts';
import { createProgress } from '../../kube/progress.ts';
import { type Command, integerOption, UsageError } from '../command.ts';
import { connectCluster, loadTargetRelease, releaseOptions, releaseOptionsHelp } from '../kube-target.ts';

export const canaryCommand: Command = {
  name: 'canary',
  usage: `Usage: berth canary <service> --weight <percent>
       berth canary promote <service>
       berth canary abort <service>

Starts <service>-canary with the current sources' image beside the stable
Deployment, behind the same Service, with replicas in proportion to --weight.
promote requires every canary pod ready, rolls the stable Deployment to the
canary's image, then removes the canary; abort removes the canary.

${releaseOptionsHelp}
      --weight <percent>  share of pods for the canary, 1-99 (default 10)
      --timeout <seconds> how long to wait for rollouts (default 300)`,
  options: {
    ...releaseOptions,
    weight: { type: 'string', default: '10' },
    timeout: { type: 'string', default: '300' },
  },
  async run({ positionals, values }, io) {
    const [first, second] = positionals;
    if (!first) throw new UsageError('expected a service, or promote|abort <service>');
    const timeoutMs = integerOption(values, 'timeout', 'seconds', 1)! * 1000;
    const weight = integerOption(values, 'weight', 'a percentage of pods', 1, 99)!;
    const release = loadTargetRelease(values, io);
    const client = await connectCluster(values);
    const progress = createProgress(io.stdout, io.isTty);
    try {
      if (first === 'abort' || first === 'promote') {
        if (!second) throw new UsageError(`expected: berth canary ${first} <service>`);
        if (first === 'abort') {
          await abortCanary(client, release.system, second);
          io.stdout.write(`${second}: canary removed; the stable release serves alone\n`);
          return 0;
        }
        const result = await promoteCanary(client, release, second, progress, timeoutMs, io.signal);
        io.stdout.write(`${second}: ${result.detail}\n`);
        return result.ok ? 0 : 1;
      }
      const result = await startCanary(client, release, first, weight, progress, timeoutMs, io.signal);
      io.stdout.write(
        result.ok
          ? `${first}-canary ready (${result.detail}); next: berth canary promote ${first}, or berth canary abort ${first}\n`
          : `${first}-canary is not healthy (${result.detail}); run: berth canary abort ${first}\n`,
      );
      return result.ok ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};
