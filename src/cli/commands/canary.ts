import { analyzeCanary, describeCounts } from '../../kube/canary-analysis.ts';
import { abortCanary, promoteCanary, startCanary } from '../../kube/operate.ts';
import { createProgress } from '../../kube/progress.ts';
import { type Command, integerOption, UsageError } from '../command.ts';
import { connectCluster, loadTargetRelease, releaseOptions, releaseOptionsHelp } from '../kube-target.ts';

/** A `--<name>` percentage, 0-100 (also `berth deploy`'s bake gate). */
export function percentOption(values: Record<string, unknown>, name: string): number {
  const raw = String(values[name]);
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || value > 100)
    throw new UsageError(`--${name}: expected a percentage (0-100), got "${raw}"`);
  return value;
}

export const canaryCommand: Command = {
  name: 'canary',
  usage: `Usage: berth canary <service> --weight <percent> [--analysis <seconds>]
       berth canary promote <service>
       berth canary abort <service>

Starts <service>-canary with the current sources' image beside the stable
Deployment, behind the same Service, with replicas in proportion to --weight;
berth's callers (gateway, typed clients) send --weight % of calls to it.
promote requires every canary pod ready, rolls the stable Deployment to the
canary's image, then removes the canary; if that rollout fails, the stable
Deployment is put back as it was and the canary kept (exit 1). abort removes
the canary. Both are recorded in the release history.

With --analysis, once the canary is ready berth reads every canary and stable
pod's /metrics (through the API server) for that many seconds and decides:
the canary's server error rate (internal, unknown, unavailable, data_loss,
deadline_exceeded) above --max-error-rate aborts it (exit 1); at or below,
it is promoted (exit 0); fewer than --min-requests calls at the canary leaves
it running for you to decide (exit 1).

${releaseOptionsHelp}
      --weight <percent>  share of calls (and pods) for the canary, 1-99 (default 10)
      --analysis <seconds>  judge the canary by its error rate over this window
      --max-error-rate <percent>  highest canary error rate promoted (default 5)
      --min-requests <n>  calls the canary must serve to be judged (default 20)
      --timeout <seconds> how long to wait for rollouts (default 300)`,
  options: {
    ...releaseOptions,
    weight: { type: 'string', default: '10' },
    analysis: { type: 'string' },
    'max-error-rate': { type: 'string', default: '5' },
    'min-requests': { type: 'string', default: '20' },
    timeout: { type: 'string', default: '300' },
  },
  async run({ positionals, values }, io) {
    const [first, second] = positionals;
    if (!first) throw new UsageError('expected a service, or promote|abort <service>');
    const timeoutMs = integerOption(values, 'timeout', 'seconds', 1)! * 1000;
    const weight = integerOption(values, 'weight', 'a percentage of calls', 1, 99)!;
    const analysisSeconds = integerOption(values, 'analysis', 'seconds', 1);
    const maxErrorRate = percentOption(values, 'max-error-rate');
    const minRequests = integerOption(values, 'min-requests', 'a number of requests', 0)!;
    const release = loadTargetRelease(values, io);
    const client = await connectCluster(values);
    const progress = createProgress(io.stdout, io.isTty);
    try {
      if (first === 'abort' || first === 'promote') {
        if (!second) throw new UsageError(`expected: berth canary ${first} <service>`);
        if (first === 'abort') {
          await abortCanary(client, release, second);
          io.stdout.write(`${second}: canary removed; the stable release serves alone\n`);
          return 0;
        }
        const result = await promoteCanary(client, release, second, progress, timeoutMs, io.signal);
        io.stdout.write(`${second}: ${result.detail}\n`);
        return result.ok ? 0 : 1;
      }
      const result = await startCanary(client, release, first, weight, progress, timeoutMs, io.signal);
      if (!result.ok) {
        io.stdout.write(
          `${first}-canary is not healthy (${result.detail}); run: berth canary abort ${first}\n`,
        );
        return 1;
      }
      if (analysisSeconds === undefined) {
        io.stdout.write(
          `${first}-canary ready (${result.detail}); next: berth canary promote ${first}, or berth canary abort ${first}\n`,
        );
        return 0;
      }
      io.stdout.write(
        `${first}-canary ready (${result.detail}); analysis for ${analysisSeconds} s: canary error rate at most ${maxErrorRate}%, at least ${minRequests} requests\n`,
      );
      const gate = await analyzeCanary(client, release.system, first, {
        seconds: analysisSeconds,
        maxErrorRate,
        minRequests,
        signal: io.signal,
        onProgress: (elapsed, canary, stable) =>
          io.stdout.write(
            `  ${elapsed}/${analysisSeconds} s  canary: ${describeCounts(canary)}; stable: ${describeCounts(stable)}\n`,
          ),
      });
      for (const pod of gate.unreadable) io.stderr.write(`warning: metrics not read from ${pod}\n`);
      io.stdout.write(
        `canary: ${describeCounts(gate.canary)}; stable: ${describeCounts(gate.stable)}\n` +
          `split: the canary served ${gate.canaryShare.toFixed(1)}% of requests (weight ${weight}%)\n`,
      );
      if (io.signal?.aborted) {
        io.stdout.write(`interrupted; the canary is left running: berth canary promote|abort ${first}\n`);
        return 1;
      }
      if (gate.verdict === 'inconclusive') {
        io.stdout.write(
          `${gate.reason}; the canary is left running. Next: send it traffic and run the analysis again ` +
            `(berth canary ${first} --weight ${weight} --analysis ${analysisSeconds}), or decide: ` +
            `berth canary promote ${first}, or berth canary abort ${first}\n`,
        );
        return 1;
      }
      if (gate.verdict === 'abort') {
        await abortCanary(client, release, first);
        io.stdout.write(`${gate.reason}: canary aborted; the stable release serves alone\n`);
        return 1;
      }
      io.stdout.write(`${gate.reason}: promoting\n`);
      const promoted = await promoteCanary(client, release, first, progress, timeoutMs, io.signal);
      io.stdout.write(`${first}: ${promoted.detail}\n`);
      return promoted.ok ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};
