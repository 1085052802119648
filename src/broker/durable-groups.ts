/**
 * Durable queue groups for the embedded broker. A queue group is durable (see
 * SubscribeOptions.queue): once it has subscribed to a topic, every later event of
 * that topic must reach it, even while none of its members runs. The direct broker
 * only sees live members in the registry, so it also writes down which groups ever
 * subscribed; a publish that finds a remembered group without a live member fails,
 * and the outbox keeps the event until a member is back.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkQueue, checkTopic, isQueue } from './names.ts';

export interface DurableGroups {
  /** Queue groups that ever subscribed to `topic`. */
  groups(topic: string): Promise<string[]>;
  remember(topic: string, queue: string): Promise<void>;
}

/**
 * One empty marker file per group: `<stateDir>/groups/<topic>/<queue>`. Every
 * process of a system shares `stateDir`, so a publisher learns the groups of
 * subscribers that are not running. Names are checked (names.ts), so they are safe
 * path segments. Remove a folder or file to forget a group for good.
 */
export class FileDurableGroups implements DurableGroups {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'groups');
  }

  async groups(topic: string): Promise<string[]> {
    checkTopic(topic);
    try {
      const names = await readdir(join(this.dir, topic));
      return names.filter(isQueue);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async remember(topic: string, queue: string): Promise<void> {
    checkTopic(topic);
    checkQueue(queue);
    await mkdir(join(this.dir, topic), { recursive: true });
    await writeFile(join(this.dir, topic, queue), '');
  }

  /** Stops holding events for a group that is gone for good. */
  async forget(topic: string, queue: string): Promise<void> {
    checkTopic(topic);
    checkQueue(queue);
    await rm(join(this.dir, topic, queue), { force: true });
  }
}

/** Groups remembered by this process only: for tests and single-process systems. */
export class MemoryDurableGroups implements DurableGroups {
  readonly #byTopic = new Map<string, Set<string>>();

  async groups(topic: string): Promise<string[]> {
    return [...(this.#byTopic.get(topic) ?? [])];
  }

  async remember(topic: string, queue: string): Promise<void> {
    let queues = this.#byTopic.get(topic);
    if (!queues) {
      queues = new Set();
      this.#byTopic.set(topic, queues);
    }
    queues.add(queue);
  }
}
