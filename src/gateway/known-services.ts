/**
 * What a call to a service nobody serves right now means: the client's mistake
 * (an unknown service: 404, or `unimplemented` for a proto service) or an outage
 * to retry later (503 `unavailable`). A service is known when the system declares
 * it (GatewayOptions knownServices / knownProtoServices); a proto service also when
 * some instance served it since the gateway started, so a system that declares
 * none still answers 503 while its only instance restarts.
 */
import { Code, ConnectError } from '../errors/berth-error.ts';
import type { RegistryCache } from '../registry/registry-cache.ts';

export class KnownServices {
  readonly #cache: RegistryCache;
  readonly #services: readonly string[];
  readonly #protoServices: Set<string>;
  readonly #stopWatching: () => void;

  constructor(cache: RegistryCache, services: readonly string[] = [], protoServices: readonly string[] = []) {
    this.#cache = cache;
    this.#services = services;
    this.#protoServices = new Set(protoServices);
    this.#stopWatching = cache.onChange(() => {
      for (const instance of cache.all())
        for (const name of instance.protoServices) this.#protoServices.add(name);
    });
  }

  /** The error for a call to `service` (`vessel`, `shippy.vessel`) when no instance of it is registered. */
  missingService(service: string): ConnectError {
    const declared = this.#services.some((name) => service === name || service.endsWith(`.${name}`));
    return declared
      ? new ConnectError(`no instance of service "${service}" is available`, Code.Unavailable)
      : new ConnectError(`unknown service "${service}"`, Code.NotFound);
  }

  /** The error for a call to `protoService` (`greeter.v1.Say`) when no usable instance serves it. */
  missingProtoService(protoService: string): ConnectError {
    return this.#protoServices.has(protoService) || this.#cache.instancesServing(protoService).length > 0
      ? new ConnectError(`no instance of "${protoService}" is available`, Code.Unavailable)
      : new ConnectError(`unknown service "${protoService}"`, Code.Unimplemented);
  }

  close(): void {
    this.#stopWatching();
  }
}
