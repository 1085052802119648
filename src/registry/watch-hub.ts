/**
 * Fan-out of registry changes to any number of watchers, each as an AsyncIterable.
 * Shared by the memory and local registries so both honour the same contract:
 * an `add` per current instance first, then changes in order, ending on abort/close.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RegistryEvent, ServiceInstance, WatchOptions } from './registry.ts';

interface Watcher {
  readonly name?: string;
  push(event: RegistryEvent): void;
  end(): void;
}

export class WatchHub {
  readonly #watchers = new Set<Watcher>();

  emit(event: RegistryEvent): void {
    for (const watcher of this.#watchers) {
      if (watcher.name === undefined || watcher.name === event.instance.name) watcher.push(event);
    }
  }

  endAll(): void {
    for (const watcher of this.#watchers) watcher.end();
    this.#watchers.clear();
  }

  /** `current` is read after the watcher is attached, so no change falls between the two. */
  async *watch(
    options: WatchOptions,
    current: () => Promise<ServiceInstance[]>,
  ): AsyncGenerator<RegistryEvent> {
    const queue: RegistryEvent[] = [];
    let ended = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const watcher: Watcher = {
      name: options.name,
      push(event) {
        queue.push(event);
        notify();
      },
      end() {
        ended = true;
        notify();
      },
    };
    this.#watchers.add(watcher);
    const onAbort = () => watcher.end();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const initial = await current();
      queue.unshift(
        ...initial
          .filter((instance) => options.name === undefined || instance.name === options.name)
          .map((instance): RegistryEvent => ({ type: 'add', instance })),
      );
      // What this watcher was told, by id. Events emitted while `current()` ran may
      // repeat what the snapshot says (the local registry's scan emits them itself),
      // or remove what it never listed: both are dropped, so the stream stays exact.
      // An `add` that changes a known instance still goes through, as an update.
      const told = new Map<string, ServiceInstance>();
      while (true) {
        const event = queue.shift();
        if (event) {
          const { id } = event.instance;
          const known = told.get(id);
          if (event.type === 'add') {
            if (known && isDeepStrictEqual(known, event.instance)) continue;
            told.set(id, event.instance);
          } else {
            if (!known) continue;
            told.delete(id);
          }
          yield event;
          continue;
        }
        if (ended || options.signal?.aborted) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.#watchers.delete(watcher);
    }
  }
}
