/**
 * Who subscribes to what, through the Registry: each direct broker with
 * subscriptions registers as an instance of `berth.broker` whose metadata lists
 * them (BrokerRegistration), and publishers look topics up among those instances in
 * a watch-fed cache (SubscriberDirectory), with no I/O per publish.
 */
import type { Registry, ServiceInstance } from '../registry/registry.ts';
import type { RegistryCache } from '../registry/registry-cache.ts';
import { directBrokerServiceName } from './direct-protocol.ts';

/** What a direct broker publishes about itself in `metadata.subscriptions`. */
export interface AdvertisedSubscription {
  readonly topic: string;
  readonly queue?: string;
}

export interface AdvertisedSubscriber {
  readonly address: string;
  readonly queue?: string;
}

export interface Target {
  readonly instanceId: string;
  readonly address: string;
}

export interface TopicTargets {
  readonly plain: Target[];
  readonly groups: Map<string, Target[]>;
}

function parseSubscriptions(instance: ServiceInstance): AdvertisedSubscription[] {
  const raw = instance.metadata.subscriptions;
  if (!raw) return [];
  try {
    const list: unknown = JSON.parse(raw);
    if (!Array.isArray(list)) return [];
    return list.filter(
      (s): s is AdvertisedSubscription =>
        typeof s === 'object' &&
        s !== null &&
        typeof s.topic === 'string' &&
        (s.queue === undefined || typeof s.queue === 'string'),
    );
  } catch {
    return [];
  }
}

/** The subscribers of each topic, as the registry cache lists them; worked out once per topic per change. */
export class SubscriberDirectory {
  readonly #cache: RegistryCache;
  readonly #system: string | undefined;
  readonly #onGroupSeen: (topic: string, queue: string) => void;
  #targets = new Map<string, TopicTargets>();

  /** `onGroupSeen`: called for every queue group found live (the caller remembers it as durable). */
  constructor(
    cache: RegistryCache,
    system: string | undefined,
    onGroupSeen: (topic: string, queue: string) => void,
  ) {
    this.#cache = cache;
    this.#system = system;
    this.#onGroupSeen = onGroupSeen;
    cache.onChange(() => {
      this.#targets = new Map();
    });
  }

  /** Plain subscribers and queue groups of `topic`, among this system's brokers. */
  targetsFor(topic: string): TopicTargets {
    let found = this.#targets.get(topic);
    if (found) return found;
    found = { plain: [], groups: new Map() };
    // A broker re-registers under a new id when its subscriptions change; while the
    // registry still shows both, only the newest generation of an address counts.
    const newest = new Map<string, ServiceInstance>();
    for (const instance of this.#cache.instances(directBrokerServiceName)) {
      if (instance.system !== this.#system) continue;
      const current = newest.get(instance.address);
      if (!current || Number(instance.metadata.generation) > Number(current.metadata.generation)) {
        newest.set(instance.address, instance);
      }
    }
    for (const instance of newest.values()) {
      const target: Target = { instanceId: instance.id, address: instance.address };
      const seen = new Set<string>();
      for (const s of parseSubscriptions(instance)) {
        if (s.topic !== topic || seen.has(s.queue ?? '')) continue;
        seen.add(s.queue ?? '');
        if (s.queue === undefined) {
          found.plain.push(target);
        } else {
          found.groups.set(s.queue, [...(found.groups.get(s.queue) ?? []), target]);
          this.#onGroupSeen(topic, s.queue);
        }
      }
    }
    this.#targets.set(topic, found);
    return found;
  }
}

export interface BrokerRegistrationOptions {
  readonly registry: Registry;
  /** Prefix of this broker's instance ids; a generation number follows. */
  readonly instancePrefix: string;
  readonly system: string | undefined;
  readonly owner: string | undefined;
  /** Where this broker receives deliveries, known once it listens. */
  readonly address: () => string;
  /** The subscriptions to advertise, read when a sync runs. */
  readonly advertised: () => AdvertisedSubscription[];
}

/** This broker's own entry in the registry, kept in line with its active subscriptions. */
export class BrokerRegistration {
  readonly #options: BrokerRegistrationOptions;
  #generation = 0;
  /** Registered instance id and the subscriptions it advertises. */
  #registered: { id: string; subscriptions: string } | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: BrokerRegistrationOptions) {
    this.#options = options;
  }

  /**
   * Brings the registry in line with the active subscriptions, one change at a time.
   * Some registries only announce additions and removals, never updates, so a change
   * registers a new instance id (next generation) before removing the old one. With
   * no subscriptions left, the broker is deregistered.
   */
  sync(): Promise<void> {
    const next = this.#queue.then(
      () => this.#apply(),
      () => this.#apply(),
    );
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(): Promise<void> {
    const { registry } = this.#options;
    const advertised = this.#options.advertised();
    const subscriptions = JSON.stringify(advertised);
    const previous = this.#registered;
    if (advertised.length === 0) {
      if (previous) {
        this.#registered = undefined;
        await registry.deregister(previous.id);
      }
      return;
    }
    if (previous?.subscriptions === subscriptions) return;
    this.#generation += 1;
    const instance: ServiceInstance = {
      id: `${this.#options.instancePrefix}-${this.#generation}`,
      name: directBrokerServiceName,
      system: this.#options.system,
      version: '1',
      address: this.#options.address(),
      protoServices: [],
      metadata: {
        subscriptions,
        generation: String(this.#generation),
        pid: String(process.pid),
        ...(this.#options.owner ? { owner: this.#options.owner } : {}),
      },
    };
    await registry.register(instance);
    this.#registered = { id: instance.id, subscriptions };
    if (previous) await registry.deregister(previous.id);
  }
}
