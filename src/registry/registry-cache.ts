/**
 * Watch-fed cache of a registry, as client-go's informers: list+watch once, keep a
 * map, answer lookups synchronously. A call never waits on the registry; if the
 * watch breaks it is restarted with jittered backoff and the cache keeps serving.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log/logger.ts';
import { matchesName, type Registry, type ServiceInstance } from './registry.ts';

export class RegistryCache {
  readonly #registry: Registry;
  readonly #logger: Logger | undefined;
  readonly #byId = new Map<string, ServiceInstance>();
  /** Lookup results by requested name, rebuilt lazily after each change. */
  #byName = new Map<string, readonly ServiceInstance[]>();
  readonly #abort = new AbortController();
  readonly #listeners = new Set<() => void>();
  #synced: Promise<void>;
  #markSynced!: () => void;
  #running: Promise<void> | undefined;
  #weightedCanary = false;

  constructor(registry: Registry, logger?: Logger) {
    this.#registry = registry;
    this.#logger = logger;
    this.#synced = new Promise((resolve) => {
      this.#markSynced = resolve;
    });
  }

  /** Starts watching; resolves when the first full list is in the cache. */
  start(): Promise<void> {
    this.#running ??= this.#run();
    return this.#synced;
  }

  /** Live instances of `name` (`vessel` or `shippy.vessel`); the same array until something changes. */
  instances(name: string): readonly ServiceInstance[] {
    let found = this.#byName.get(name);
    if (!found) {
      found = [...this.#byId.values()].filter((instance) => matchesName(instance, name));
      this.#byName.set(name, found);
    }
    return found;
  }

  /** Live instances that serve a fully-qualified proto service, e.g. `shippy.vessel.v1.VesselService`. */
  instancesServing(protoService: string): readonly ServiceInstance[] {
    const key = `proto:${protoService}`;
    let found = this.#byName.get(key);
    if (!found) {
      found = [...this.#byId.values()].filter((instance) => instance.protoServices.includes(protoService));
      this.#byName.set(key, found);
    }
    return found;
  }

  /**
   * Some instance is a canary with a weight (`metadata.track = 'canary'` and
   * `metadata.canaryWeight`): callers split calls by weight only then, so without
   * a canary the hot path pays one boolean test.
   */
  get hasWeightedCanary(): boolean {
    return this.#weightedCanary;
  }

  all(): ServiceInstance[] {
    return [...this.#byId.values()];
  }

  /** Called after every change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once at least one instance of `name` is known, or rejects after `timeoutMs`. */
  async waitFor(name: string, timeoutMs: number): Promise<readonly ServiceInstance[]> {
    await this.start();
    if (this.instances(name).length > 0) return this.instances(name);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no instance of "${name}" registered within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onChange(() => {
        if (this.instances(name).length === 0) return;
        clearTimeout(timer);
        off();
        resolve(this.instances(name));
      });
    });
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#abort.signal.aborted) {
      try {
        this.#replace(await this.#registry.list(undefined, this.#abort.signal));
        this.#markSynced();
        failures = 0;
        for await (const event of this.#registry.watch({ signal: this.#abort.signal })) {
          if (event.type === 'add') {
            // The watch opens with an add per instance the list already gave: not a change.
            if (isDeepStrictEqual(this.#byId.get(event.instance.id), event.instance)) continue;
            this.#byId.set(event.instance.id, event.instance);
          } else if (!this.#byId.delete(event.instance.id)) continue;
          this.#changed();
        }
        if (!this.#abort.signal.aborted) throw new Error('registry watch ended');
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        failures += 1;
        const delay = Math.min(5000, 100 * 2 ** failures) * (0.5 + Math.random() / 2);
        this.#logger?.warn(
          { err: error, retryInMs: Math.round(delay) },
          'registry watch failed; cache keeps serving',
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  #replace(instances: ServiceInstance[]): void {
    this.#byId.clear();
    for (const instance of instances) this.#byId.set(instance.id, instance);
    this.#changed();
  }

  #changed(): void {
    this.#byName = new Map();
    this.#weightedCanary = false;
    for (const instance of this.#byId.values()) {
      if (instance.metadata.track === 'canary' && instance.metadata.canaryWeight !== undefined) {
        this.#weightedCanary = true;
        break;
      }
    }
    for (const listener of this.#listeners) listener();
  }
}
