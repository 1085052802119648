import { deploy, dryRun } from '../../kube/deploy.ts';
import { DeployLockedError } from '../../kube/deploy-lock.ts';
import { createProgress } from '../../kube/progress.ts';
import { imageFor } from '../../kube/workload.ts';
import { type Command, integerOption } from '../command.ts';
import { connectCluster, loadTargetRelease, releaseOptions, releaseOptionsHelp } from '../kube-target.ts';

export const deployCommand: Command = {
  name: 'deploy',
  usage: `Usage: berth deploy [-f berth.yaml] --env <name> [--context c] [--namespace n] [--tag t]

Has the API server validate every object first (if one is rejected, nothing
changes), then server-side applies them (field manager "berth"), starts stateful
dependencies first, watches each rollout with live progress, and if one fails
(progress deadline exceeded, crash loop, pods never ready) rolls back every
service it changed and exits 1 with the reason per service. Objects the system
no longer renders are pruned. Deploying an unchanged system changes nothing.
One deploy runs at a time per system and namespace (a Lease "<system>-deploy"):
another one is refused with exit code 3, naming who holds it; the lock of a
deploy that was killed expires after 60 s.

${releaseOptionsHelp}
      --timeout <seconds> per rollout before it counts as failed (default 300)
      --progress-deadline <seconds>
                          Kubernetes progressDeadlineSeconds (default 120)
      --dry-run           validate every object with the API server; change nothing`,
  options: {
    ...releaseOptions,
    timeout: { type: 'string', default: '300' },
    'progress-deadline': { type: 'string', default: '120' },
    'dry-run': { type: 'boolean', default: false },
  },
  async run({ values }, io) {
    const timeoutS = integerOption(values, 'timeout', 'seconds', 1)!;
    const progressDeadlineSeconds = integerOption(values, 'progress-deadline', 'seconds', 1)!;
    const release = loadTargetRelease(values, io);
    const { system } = release;
    const client = await connectCluster(values);
    try {
      if (values['dry-run']) {
        const { problems, createdNamespace } = await dryRun(client, release, progressDeadlineSeconds);
        if (createdNamespace)
          io.stdout.write(
            `created namespace ${createdNamespace}: objects in it can only be validated there\n`,
          );
        for (const problem of problems) io.stderr.write(`${problem.object}: ${problem.error}\n`);
        io.stdout.write(
          problems.length === 0
            ? `all objects of ${system.system} accepted by ${client.server} (dry run)\n`
            : '',
        );
        return problems.length === 0 ? 0 : 1;
      }
      io.stdout.write(
        `deploying ${system.system} (${system.environment}) to ${client.server}, namespace ${system.namespace}\n`,
      );
      for (const [name, tag] of Object.entries(release.tags))
        io.stdout.write(`  ${name}: ${imageFor(system, name, tag)}\n`);
      const started = Date.now();
      let result: Awaited<ReturnType<typeof deploy>>;
      try {
        result = await deploy({
          client,
          release,
          progress: createProgress(io.stdout, io.isTty),
          timeoutMs: timeoutS * 1000,
          progressDeadlineSeconds,
          signal: io.signal,
        });
      } catch (error) {
        if (!(error instanceof DeployLockedError)) throw error;
        io.stderr.write(`berth deploy: refused: ${error.message}\n`);
        return 3;
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (result.ok) {
        const updated = result.services
          .filter((service) => service.result === 'updated')
          .map((service) => service.name);
        io.stdout.write(
          `deploy #${result.deployNumber} done in ${seconds} s: ${updated.length === 0 ? 'nothing changed' : `updated ${updated.join(', ')}`}${result.pruned.length ? `; pruned ${result.pruned.join(', ')}` : ''}\n`,
        );
        return 0;
      }
      io.stderr.write(`deploy #${result.deployNumber} FAILED after ${seconds} s:\n`);
      for (const service of result.services) {
        if (service.result === 'failed' || service.result === 'rolled-back') {
          const back =
            service.rolledBackTo !== undefined ? ` → rolled back to revision ${service.rolledBackTo}` : '';
          io.stderr.write(`  ${service.name}: ${service.reason}${back}\n`);
        }
      }
      io.stderr.write(
        'Fix the failing service (see "berth logs <service> --cluster" and "berth status"), then deploy again.\n',
      );
      return 1;
    } finally {
      await client.close();
    }
  },
};
