/** A registry held in this process's memory: for tests and single-process systems. */
import type { Registry, RegistryEvent, ServiceInstance, WatchOptions } from './registry.ts';
import { WatchHub } from './watch-hub.ts';

export class MemoryRegistry implements Registry {
  readonly #instances = new Map<string, ServiceInstance>();
  readonly #hub = new WatchHub();

  async register(instance: ServiceInstance): Promise<void> {
    this.#instances.set(instance.id, instance);
    this.#hub.emit({ type: 'add', instance });
  }

  async deregister(id: string): Promise<void> {
    const instance = this.#instances.get(id);
    if (!instance) return;
    this.#instances.delete(id);
    this.#hub.emit({ type: 'remove', instance });
  }

  async list(name?: string): Promise<ServiceInstance[]> {
    return [...this.#instances.values()].filter((instance) => name === undefined || instance.name === name);
  }

  watch(options: WatchOptions = {}): AsyncIterable<RegistryEvent> {
    return this.#hub.watch(options, () => this.list());
  }

  async close(): Promise<void> {
    this.#hub.endAll();
  }
}
