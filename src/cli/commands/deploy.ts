import type { Writable } from 'node:stream';
import type { GateOptions } from '../../kube/canary-analysis.ts';
import { type DeployOutcome, type DeployResult, deploy } from '../../kube/deploy.ts';
import { DeployRefusedError } from '../../kube/deploy-lock.ts';
import { dryRun } from '../../kube/dry-run.ts';
import { createProgress } from '../../kube/progress.ts';
import type { Release } from '../../kube/release.ts';
import { imageFor } from '../../kube/workload.ts';
import { type Command, type CommandIo, integerOption, UsageError } from '../command.ts';
import { connectCluster, loadTargetRelease, releaseOptions, releaseOptionsHelp } from '../kube-target.ts';
import { percentOption } from './canary.ts';

/** One exit code per outcome; 2 stays a usage mistake, as for every berth command (docs/ci-cd.md). */
export const deployExitCodes: Readonly<Record<DeployOutcome | 'refused', number>> = {
  deployed: 0,
  'rolled-back': 1,
  refused: 3,
  unchanged: 4,
  failed: 5,
};

/** What `--output json` prints: one document, at the end, whatever the outcome. */
interface DeployReport {
  readonly outcome: DeployOutcome | 'refused';
  readonly environment: string;
  /** null when berth.yaml could not be read. */
  readonly namespace: string | null;
  readonly changed: DeployResult['changed'];
  readonly pruned: DeployResult['pruned'];
  /** After a rollback: what got its previous version back, and what this deploy had created and deleted again. */
  readonly restored: DeployResult['restored'];
  readonly deleted: DeployResult['deleted'];
  readonly revisions: DeployResult['revisions'];
  readonly reason?: string;
  /** The post-deploy bake: per service, healthy or degraded and why, with its requests and errors. */
  readonly bake?: DeployResult['bake'];
  readonly durationMs: number;
}

export const deployCommand: Command = {
  name: 'deploy',
  usage: `Usage: berth deploy [-f berth.yaml] --env <name> [--context c] [--namespace n] [--tag t]
                    [--bake <seconds>] [--output text|json]

Has the API server validate every object first (if one is rejected, nothing
changes), then server-side applies them (field manager "berth"), starts stateful
dependencies first, watches each rollout with live progress, and if one fails
(progress deadline exceeded, crash loop, pods never ready, a dependency that
never becomes ready) stops the other waits and rolls back the whole release:
every object it changed gets its previous version back (configuration before
workloads), every object it created is deleted, with the reason per service.
Once every rollout completed, each changed service bakes for --bake seconds
(default: berth.yaml rollout.bakeSeconds, 0 = no bake): a new pod that
restarts or goes not ready, or a server error rate (internal, unknown,
unavailable, data_loss, deadline_exceeded, read from the pods' /metrics)
above --max-error-rate with at least --min-requests calls, rolls the whole
release back the same way, with the reason "bake: ...".
Generated Secrets are kept. Objects the system no longer
renders are pruned. Deploying an unchanged system changes nothing.
One deploy runs at a time per system and namespace (a Lease "<system>-deploy"):
another one is refused, naming who holds it; the lock of a deploy that was
killed expires after 60 s. It never prompts.

Exit codes: 0 deployed, 1 rolled back, 2 usage mistake, 3 refused (another
deploy holds the lock, or a canary runs), 4 nothing changed, 5 failed (the API
server rejected the release, a rollback did not complete, the cluster could
not be reached...).

${releaseOptionsHelp}
      --timeout <seconds> a rollout with no new pod ready for this long fails (default 300)
      --progress-deadline <seconds>
                          Kubernetes progressDeadlineSeconds (default 120)
      --bake <seconds>    watch the changed services this long after their rollouts
                          (default: berth.yaml rollout.bakeSeconds; 0: no bake)
      --max-error-rate <percent>  highest error rate a bake passes (default 5)
      --min-requests <n>  calls a service must serve in the bake for its error
                          rate to be judged (default 20)
      --output json       progress on stderr, then one JSON document on stdout:
                          { outcome, environment, namespace, changed, pruned,
                            restored, deleted, revisions, reason?, bake?,
                            durationMs }
      --dry-run           validate every object with the API server; change nothing`,
  options: {
    ...releaseOptions,
    timeout: { type: 'string', default: '300' },
    'progress-deadline': { type: 'string', default: '120' },
    bake: { type: 'string' },
    'max-error-rate': { type: 'string', default: '5' },
    'min-requests': { type: 'string', default: '20' },
    output: { type: 'string', default: 'text' },
    'dry-run': { type: 'boolean', default: false },
  },
  async run({ values }, io) {
    const timeoutS = integerOption(values, 'timeout', 'seconds', 1)!;
    const progressDeadlineSeconds = integerOption(values, 'progress-deadline', 'seconds', 1)!;
    const bakeSeconds = integerOption(values, 'bake', 'seconds', 0, 86_400);
    const bakeGate: GateOptions = {
      maxErrorRate: percentOption(values, 'max-error-rate'),
      minRequests: integerOption(values, 'min-requests', 'a number of requests', 0)!,
    };
    const output = values.output as string;
    if (output !== 'text' && output !== 'json')
      throw new UsageError(`--output: expected text or json, got "${output}"`);
    if (output === 'json' && values['dry-run'])
      throw new UsageError('--output json is for a deploy, not --dry-run');
    const started = Date.now();
    let release: Release | undefined;
    const finish = (report: Omit<DeployReport, 'environment' | 'namespace' | 'durationMs'>) => {
      if (output === 'json') {
        const full: DeployReport = {
          outcome: report.outcome,
          environment: release?.system.environment ?? String(values.env),
          namespace: release?.system.namespace ?? null,
          changed: report.changed,
          pruned: report.pruned,
          restored: report.restored,
          deleted: report.deleted,
          revisions: report.revisions,
          ...(report.reason !== undefined ? { reason: report.reason } : {}),
          ...(report.bake !== undefined ? { bake: report.bake } : {}),
          durationMs: Date.now() - started,
        };
        io.stdout.write(`${JSON.stringify(full)}\n`);
      }
      return deployExitCodes[report.outcome];
    };
    const nothing = { changed: [], pruned: [], restored: [], deleted: [], revisions: {} };
    // With JSON on stdout, everything a person reads goes to stderr.
    const log = output === 'json' ? io.stderr : io.stdout;
    /** A deploy that stopped before its rollouts had a result: refused, or failed with the reason. */
    const stopped = (error: unknown) => {
      if (error instanceof UsageError) throw error;
      const refused = error instanceof DeployRefusedError;
      io.stderr.write(`berth deploy: ${refused ? 'refused: ' : ''}${(error as Error).message}\n`);
      return finish({
        outcome: refused ? 'refused' : 'failed',
        reason: (error as Error).message,
        ...nothing,
      });
    };
    try {
      // A berth.yaml that cannot be read is a failed deploy too, with its exit code and report.
      release = loadTargetRelease(values, io);
    } catch (error) {
      return stopped(error);
    }
    if (values['dry-run']) return await validateOnly(release, values, progressDeadlineSeconds, io);
    let result: DeployResult;
    try {
      const settings = { timeoutS, progressDeadlineSeconds, bakeSeconds, bakeGate, log };
      result = await deployRelease(release, values, settings, io);
    } catch (error) {
      return stopped(error);
    }
    writeSummary(result, ((Date.now() - started) / 1000).toFixed(1), log, io.stderr);
    return finish(result);
  },
};

async function deployRelease(
  release: Release,
  values: Record<string, unknown>,
  options: {
    timeoutS: number;
    progressDeadlineSeconds: number;
    bakeSeconds: number | undefined;
    bakeGate: GateOptions;
    log: Writable;
  },
  io: CommandIo,
): Promise<DeployResult> {
  const { system } = release;
  const client = await connectCluster(values);
  try {
    const { log } = options;
    log.write(
      `deploying ${system.system} (${system.environment}) to ${client.server}, namespace ${system.namespace}\n`,
    );
    for (const [name, tag] of Object.entries(release.tags))
      log.write(`  ${name}: ${imageFor(system, name, tag)}\n`);
    return await deploy({
      client,
      release,
      // A terminal's live lines only when that is where they go.
      progress: createProgress(log, log === io.stdout && io.isTty),
      timeoutMs: options.timeoutS * 1000,
      progressDeadlineSeconds: options.progressDeadlineSeconds,
      bakeSeconds: options.bakeSeconds,
      bakeGate: options.bakeGate,
      signal: io.signal,
    });
  } finally {
    await client.close();
  }
}

/** The closing lines a person reads: what was updated and pruned, or why each service went back. */
function writeSummary(result: DeployResult, seconds: string, log: Writable, errors: Writable): void {
  const named = (objects: DeployResult['changed']) => objects.map(({ kind, name }) => `${kind}/${name}`);
  if (result.outcome === 'deployed' || result.outcome === 'unchanged') {
    const updated = result.services
      .filter((service) => service.result === 'updated')
      .map((service) => service.name);
    // What changed besides the services, when no service did (a generated Secret, a policy).
    const others = updated.length === 0 ? named(result.changed) : [];
    const what =
      result.outcome === 'unchanged'
        ? 'nothing changed'
        : updated.length > 0
          ? `updated ${updated.join(', ')}`
          : `no service updated${others.length > 0 ? `; changed ${others.join(', ')}` : ''}`;
    const pruned = named(result.pruned);
    const baked = result.bake ? `; baked ${result.bake.seconds} s, healthy` : '';
    log.write(
      `deploy #${result.deployNumber} done in ${seconds} s: ${what}${baked}${pruned.length ? `; pruned ${pruned.join(', ')}` : ''}\n`,
    );
    return;
  }
  errors.write(`deploy #${result.deployNumber} FAILED after ${seconds} s:\n`);
  for (const service of result.services) {
    if (service.result === 'failed' || service.result === 'rolled-back') {
      const back =
        service.rolledBackTo !== undefined ? ` → rolled back to revision ${service.rolledBackTo}` : '';
      errors.write(`  ${service.name}: ${service.reason}${back}\n`);
    }
  }
  if (result.restored.length > 0)
    errors.write(`  put back as before: ${named(result.restored).join(', ')}\n`);
  if (result.deleted.length > 0)
    errors.write(`  deleted (new in this deploy): ${named(result.deleted).join(', ')}\n`);
  errors.write(
    'Fix the failing service (see "berth logs <service> --cluster" and "berth status"), then deploy again.\n',
  );
}

async function validateOnly(
  release: Release,
  values: Record<string, unknown>,
  progressDeadlineSeconds: number,
  io: CommandIo,
): Promise<number> {
  const client = await connectCluster(values);
  try {
    const { problems, createdNamespace } = await dryRun(client, release, progressDeadlineSeconds);
    if (createdNamespace)
      io.stdout.write(`created namespace ${createdNamespace}: objects in it can only be validated there\n`);
    for (const problem of problems) io.stderr.write(`${problem.object}: ${problem.error}\n`);
    if (problems.length === 0)
      io.stdout.write(`all objects of ${release.system.system} accepted by ${client.server} (dry run)\n`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    await client.close();
  }
}
