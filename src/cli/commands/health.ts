/**
 * `berth health`: liveness (/healthz) and readiness (/readyz) of every instance,
 * with the checks that fail. The exit code makes it a gate for scripts: 0 only
 * when every instance asked about is ready.
 */
import { matchesName, type ServiceInstance } from '../../registry/registry.ts';
import { type Command, UsageError } from '../command.ts';
import { painter } from '../format/colour.ts';
import { readinessCell } from '../format/readiness.ts';
import { renderTable } from '../format/table.ts';
import { formatOptions } from '../format/usage.ts';
import {
  openLocalRegistry,
  probe,
  probeReadiness,
  registryDirHelp,
  registryDirOption,
  servicesByName,
} from '../local-system.ts';

const probeTimeoutMs = 2_000;

export const healthCommand: Command = {
  name: 'health',
  usage: `Usage: berth health [service] [options]

Asks every instance (of one service, or of all) for GET /healthz and GET /readyz
and shows the readiness checks that fail. Exits 0 when every instance is ready,
1 otherwise (also when there is no instance at all).

${formatOptions([['--json', 'print {"ready", "instances"} instead of a table'], registryDirHelp])}`,
  options: { json: { type: 'boolean' }, ...registryDirOption },
  async run({ positionals, values }, io) {
    const [service, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const registry = openLocalRegistry(values, io);
    let byName: Map<string, ServiceInstance[]>;
    try {
      byName = servicesByName(await registry.list());
    } finally {
      await registry.close();
    }
    let instances = [...byName.values()].flat();
    if (service !== undefined) {
      instances = instances.filter((instance) => matchesName(instance, service));
      if (instances.length === 0) {
        const known = [...byName.keys()];
        const hint = known.length > 0 ? `known services: ${known.join(', ')}` : 'no service is registered';
        io.stderr.write(`no instance of service "${service}" is registered in ${registry.dir}; ${hint}\n`);
        return 1;
      }
    } else if (instances.length === 0) {
      io.stderr.write(`no services are registered in ${registry.dir}\n`);
      return 1;
    }

    const results = await Promise.all(
      instances.map(async (instance) => {
        const [live, ready] = await Promise.all([
          probe(instance.address, '/healthz', probeTimeoutMs, io.signal),
          probeReadiness(instance.address, probeTimeoutMs, io.signal),
        ]);
        return {
          service: instance.name,
          id: instance.id,
          address: instance.address,
          // Why an unreachable instance did not answer is in `reasons`, from the readiness probe.
          live:
            live.status === undefined ? 'unreachable' : live.status === 200 ? 'ok' : `HTTP ${live.status}`,
          ready: ready.readiness,
          reasons: ready.reasons,
        };
      }),
    );
    const allReady = results.every((result) => result.ready === 'ready');

    if (values.json === true) {
      io.stdout.write(`${JSON.stringify({ ready: allReady, instances: results }, null, 2)}\n`);
    } else {
      const paint = painter(io);
      const rows = results.map((result) => [
        result.service,
        result.id,
        result.address,
        result.live === 'ok' ? 'ok' : { text: result.live, paint: (text: string) => paint(text, 'red') },
        readinessCell(result.ready, paint),
        result.reasons.join('; '),
      ]);
      io.stdout.write(renderTable(['SERVICE', 'INSTANCE', 'ADDRESS', 'HEALTHZ', 'READYZ', 'DETAIL'], rows));
      const readyCount = results.filter((result) => result.ready === 'ready').length;
      io.stdout.write(`\n${readyCount} of ${results.length} instances ready\n`);
    }
    return allReady ? 0 : 1;
  },
};
