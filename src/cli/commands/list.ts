/** `berth list`: the services of the local registry, each instance with its readiness. */
import type { ServiceInstance } from '../../registry/registry.ts';
import { type Command, UsageError } from '../command.ts';
import { painter } from '../format/colour.ts';
import { readinessCell } from '../format/readiness.ts';
import { renderTable } from '../format/table.ts';
import { formatOptions } from '../format/usage.ts';
import {
  openLocalRegistry,
  probeReadiness,
  registryDirHelp,
  registryDirOption,
  servicesByName,
} from '../local-system.ts';

/** Readiness probes are for a glance at the system: a hung instance shows as unreachable, quickly. */
const probeTimeoutMs = 1_000;

export const listCommand: Command = {
  name: 'list',
  usage: `Usage: berth list [options]

Lists the services in the local registry: per instance its id, address,
version and readiness (GET /readyz: ready, not ready or unreachable).

${formatOptions([['--json', 'print {"services": [{name, instances}]} instead of a table'], registryDirHelp])}`,
  options: { json: { type: 'boolean' }, ...registryDirOption },
  async run({ positionals, values }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const registry = openLocalRegistry(values, io);
    let byName: Map<string, ServiceInstance[]>;
    try {
      byName = servicesByName(await registry.list());
    } finally {
      await registry.close();
    }
    const services = await Promise.all(
      [...byName].map(async ([name, instances]) => ({
        name,
        instances: await Promise.all(
          instances.map(async (instance) => ({
            ...instance,
            health: (await probeReadiness(instance.address, probeTimeoutMs, io.signal)).readiness,
          })),
        ),
      })),
    );
    if (values.json === true) {
      io.stdout.write(`${JSON.stringify({ services }, null, 2)}\n`);
      return 0;
    }
    if (services.length === 0) {
      io.stdout.write(`no services are registered in ${registry.dir}\n`);
      return 0;
    }
    const paint = painter(io);
    const rows = services.flatMap((service) =>
      service.instances.map((instance) => [
        service.name,
        instance.id,
        instance.address,
        instance.version,
        readinessCell(instance.health, paint),
      ]),
    );
    io.stdout.write(renderTable(['SERVICE', 'INSTANCE', 'ADDRESS', 'VERSION', 'HEALTH'], rows));
    return 0;
  },
};
