/** The berth Service of each __system__ service, from the Runtime that `runMain` (or a test) gives it. */
import { type Runtime, Service } from 'berth';
import { system, version } from './settings.ts';

export function newService(name: string, runtime: Runtime): Service {
  return new Service({
    name,
    system,
    version,
    registry: runtime.registry,
    logger: runtime.logger,
    host: runtime.host,
    port: runtime.port,
    advertiseHost: runtime.advertiseHost,
  });
}
