import type { Registry, RegistryEvent, WatchOptions } from '../../src/registry/registry.ts';

export interface Watching {
  /** Events received so far, in order, as `add:<id>` / `remove:<id>`. */
  readonly events: string[];
  /** Resolves when the watch has ended (after `stop()` or the registry's close). */
  readonly ended: Promise<void>;
  stop(): Promise<void>;
}

/** Consumes `registry.watch(options)` in the background, recording each event. */
export function recordWatch(registry: Registry, options: Omit<WatchOptions, 'signal'> = {}): Watching {
  const abort = new AbortController();
  const events: string[] = [];
  const ended = (async () => {
    for await (const event of registry.watch({ ...options, signal: abort.signal })) {
      events.push(describe(event));
    }
  })();
  return {
    events,
    ended,
    async stop() {
      abort.abort();
      await ended;
    },
  };
}

function describe(event: RegistryEvent): string {
  return `${event.type}:${event.instance.id}`;
}
