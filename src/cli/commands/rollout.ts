/**
 * `berth rollout history | status | undo`: the releases recorded in the
 * namespace (as `helm history`), waiting for a service's rollout and going back
 * to an earlier revision (as `kubectl rollout status` and `undo`). The waits
 * are deploy's own (waitForRollout), so a rollout fails here exactly when it
 * would fail a deploy.
 */
import type { SystemFile } from '../../config/system-file.ts';
import type { KubeClient } from '../../kube/kube-client.ts';
import { createProgress } from '../../kube/progress.ts';
import { imageNames } from '../../kube/release.ts';
import { readHistory } from '../../kube/release-history.ts';
import { undoRollout, waitForRollout } from '../../kube/rollout.ts';
import { type Command, type CommandIo, integerOption, UsageError } from '../command.ts';
import { painter } from '../format/colour.ts';
import { historyJson, renderHistory } from '../format/history-table.ts';
import { connectCluster, kubeOptions, kubeOptionsHelp, loadTargetSystem } from '../kube-target.ts';

/** A service (or the gateway) of the system: a typo is named with the choices, before any wait. */
function knownService(system: SystemFile, name: string, alsoKnown: readonly string[] = []): string {
  const known = [...new Set([...imageNames(system), ...alsoKnown])];
  if (known.includes(name)) return name;
  throw new UsageError(`${system.system} has no service "${name}"; it has: ${known.join(', ')}`);
}

/** Waits for `service`'s rollout with live progress and says how it ended: exit 0 complete, 1 failed. */
async function waitAndReport(
  client: KubeClient,
  system: SystemFile,
  service: string,
  timeoutMs: number,
  io: CommandIo,
): Promise<number> {
  const state = await waitForRollout(client, system.namespace, service, {
    timeoutMs,
    progress: createProgress(io.stdout, io.isTty),
    label: service,
    signal: io.signal,
  });
  if (state.phase === 'complete') {
    io.stdout.write(`${service}: rollout complete (${state.detail})\n`);
    return 0;
  }
  io.stderr.write(`${service}: rollout failed: ${state.detail}\n`);
  return 1;
}

async function showHistory(
  client: KubeClient,
  system: SystemFile,
  options: { readonly service?: string; readonly json: boolean },
  io: CommandIo,
): Promise<void> {
  const entries = await readHistory(client, system.system, system.namespace);
  // A service berth.yaml no longer has may still be in the history.
  const recorded = entries.flatMap((entry) => Object.keys(entry.tags));
  const service = options.service === undefined ? undefined : knownService(system, options.service, recorded);
  if (options.json) {
    const document = {
      system: system.system,
      namespace: system.namespace,
      entries: historyJson(entries, service),
    };
    io.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  } else if (entries.length === 0) {
    io.stdout.write(
      `no release history of ${system.system} in namespace ${system.namespace}: berth deploy records one (ConfigMap ${system.system}-berth-history)\n`,
    );
  } else {
    io.stdout.write(renderHistory(entries, { service, paint: painter(io) }));
  }
}

export const rolloutCommand: Command = {
  name: 'rollout',
  usage: `Usage: berth rollout history [--service <name>] [--output text|json]
       berth rollout status <service> [--timeout <seconds>]
       berth rollout undo <service> [--to-revision n] [--timeout <seconds>]

history  every release recorded in the namespace, oldest first: deploys, canary
         promotions and aborts, how each ended (ok, rolled back, failed), the
         image tags and Deployment revisions. Exit 0, also when there is none.
status   waits for the service's current rollout, judged as berth deploy judges
         one: exit 0 when it is complete, 1 with the reason when it failed.
undo     puts back an earlier revision's pod template, then waits as status does.

${kubeOptionsHelp}
      --service <name>    history: that service's tag and revision only
      --output json       history: the entries as one JSON document
      --timeout <seconds> status, undo: a rollout with no new pod ready for this long fails (default 300)
      --to-revision <n>   undo: revision to restore (default: the one before the current)`,
  options: {
    ...kubeOptions,
    service: { type: 'string' },
    output: { type: 'string', default: 'text' },
    timeout: { type: 'string', default: '300' },
    'to-revision': { type: 'string' },
  },
  async run({ positionals, values }, io) {
    const [action, service, ...extra] = positionals;
    if (action !== 'history' && action !== 'status' && action !== 'undo')
      throw new UsageError(
        `expected history, status <service> or undo <service>, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
    if (action === 'history' && service !== undefined)
      throw new UsageError(`berth rollout history takes no service: for one, --service ${service}`);
    if (action !== 'history' && service === undefined)
      throw new UsageError(`expected: berth rollout ${action} <service>`);
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    const timeoutMs = integerOption(values, 'timeout', 'seconds', 1)! * 1000;
    const to = integerOption(values, 'to-revision', 'a revision number', 1);
    const output = values.output as string;
    if (output !== 'text' && output !== 'json')
      throw new UsageError(`--output: expected text or json, got "${output}"`);
    const system = loadTargetSystem(values, io);
    const name = action === 'history' ? undefined : knownService(system, service!);
    const client = await connectCluster(values);
    try {
      if (name === undefined) {
        const only = values.service as string | undefined;
        await showHistory(client, system, { service: only, json: output === 'json' }, io);
        return 0;
      }
      if (action === 'undo') {
        const restored = await undoRollout(client, system.namespace, name, to);
        io.stdout.write(`${name}: restoring revision ${restored}\n`);
      }
      return await waitAndReport(client, system, name, timeoutMs, io);
    } finally {
      await client.close();
    }
  },
};
