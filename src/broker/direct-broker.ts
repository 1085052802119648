/**
 * DirectBroker: the embedded default, in the spirit of go-micro's HTTP broker. No
 * server to install: each broker listens on a small HTTP port of its own and, while
 * it has subscriptions, registers in the Registry as an instance of `berth.broker`
 * listing them. A publish looks the topic up in a watch-fed cache of those
 * instances and POSTs the event to every plain subscriber and to one member of each
 * queue group; a 200 is the subscriber's ack.
 *
 * Delivery is synchronous, so this broker alone is at most once: publish rejects
 * (Code.Unavailable) unless every target acked, and durability comes from the
 * transactional outbox (outbox.ts), whose relay retries until publish succeeds.
 * For the relay to wait for a queue group that is down, groups are remembered
 * (durable-groups.ts): publish fails while a remembered group has no live member.
 * With a `token` (`berth run` gives every process of a run the same one), a
 * delivery that does not carry it is refused, so no other local user can feed a
 * subscriber forged events.
 *
 *   publisher                         registry                      subscriber
 *     │ publish(topic)                   │  berth.broker instances     │
 *     │── cache lookup (no I/O) ◄────────┤◄── register {subscriptions} ─│ subscribe()
 *     │── POST /berth/broker/v1/deliver + token ───────────────────────►│ handler(event)
 *     │◄───────────────────────────────── 200 ack / 500 nack ───────────│
 *
 * The parts, one concern each: direct-protocol.ts (the wire contract),
 * direct-delivery-client.ts (sending), direct-delivery-server.ts (receiving),
 * direct-subscriptions.ts (this process's handlers), direct-membership.ts (who
 * subscribes where, through the registry). This file composes them.
 */
import { randomBytes } from 'node:crypto';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import type { Registry } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import type {
  Broker,
  BrokerEvent,
  EventHandler,
  PublishInput,
  SubscribeOptions,
  Subscription,
} from './broker.ts';
import { Cursors } from './cursors.ts';
import { DeliveryClient } from './direct-delivery-client.ts';
import { DeliveryServer } from './direct-delivery-server.ts';
import {
  type AdvertisedSubscriber,
  BrokerRegistration,
  SubscriberDirectory,
  type Target,
} from './direct-membership.ts';
import { directBrokerServiceName, type Outcome, subscriptionKey } from './direct-protocol.ts';
import { LocalSubscriptions } from './direct-subscriptions.ts';
import { type DurableGroups, FileDurableGroups, MemoryDurableGroups } from './durable-groups.ts';
import { encodeEvent } from './envelope.ts';
import { producing } from './event-tracing.ts';
import { checkSubscribe, checkTopic } from './names.ts';

export type { AdvertisedSubscriber, AdvertisedSubscription } from './direct-membership.ts';
export { directBrokerServiceName } from './direct-protocol.ts';

export interface DirectBrokerOptions {
  readonly registry: Registry;
  readonly logger?: Logger;
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port to listen on. Default 0: any free port. */
  readonly port?: number;
  /** Host other processes reach this broker at; default `host` (`127.0.0.1` when it is a wildcard). */
  readonly advertiseHost?: string;
  /** System this broker belongs to; only brokers of the same system exchange events. */
  readonly system?: string;
  /** Name of the service that owns this broker, recorded in its registry metadata. */
  readonly owner?: string;
  /**
   * Shared secret of the system's brokers: sent with every delivery, and required of
   * every delivery received (401 otherwise, and no handler runs). `berth run` passes
   * one per run in BERTH_BROKER_TOKEN. Without it deliveries are not authenticated:
   * anyone who can reach the port can publish to this broker's subscribers.
   */
  readonly token?: string;
  /**
   * Where durable queue groups are remembered (FileDurableGroups): a folder shared by
   * every process of the system. Ignored when `durableGroups` is given. Without either,
   * groups are remembered in memory only, so a publisher waits only for groups it has
   * seen since it started.
   */
  readonly stateDir?: string;
  readonly durableGroups?: DurableGroups;
  /** Largest event accepted, serialised. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** How long one delivery (the subscriber's handler included) may take. Default 30 s. */
  readonly deliveryTimeoutMs?: number;
}

const defaults = {
  host: '127.0.0.1',
  port: 0,
  maxBodyBytes: 1024 * 1024,
  deliveryTimeoutMs: 30_000,
};

export class DirectBroker implements Broker {
  readonly #logger: Logger;
  readonly #durable: DurableGroups;
  readonly #maxBodyBytes: number;
  readonly #server: DeliveryServer;
  readonly #client: DeliveryClient;
  readonly #cache: RegistryCache;
  readonly #directory: SubscriberDirectory;
  readonly #registration: BrokerRegistration;
  readonly #subscriptions: LocalSubscriptions;
  /** Round-robin cursors over the remote members of each group. */
  readonly #cursors = new Cursors();
  /** Groups already handed to DurableGroups by this process. */
  readonly #remembered = new Set<string>();
  #closing: Promise<void> | undefined;

  /** Starts the delivery listener and the registry watch; resolves when both are ready. */
  static async start(options: DirectBrokerOptions): Promise<DirectBroker> {
    const broker = new DirectBroker(options);
    if (options.token === undefined) {
      broker.#logger.warn(
        'no token: deliveries are not authenticated, anyone who can reach this port can publish to its subscribers (berth run passes Runtime.brokerToken)',
      );
    }
    try {
      await broker.#server.listen();
      await broker.#cache.start();
    } catch (error) {
      await broker.close();
      throw error;
    }
    return broker;
  }

  private constructor(options: DirectBrokerOptions) {
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'direct-broker' });
    this.#durable =
      options.durableGroups ??
      (options.stateDir ? new FileDurableGroups(options.stateDir) : new MemoryDurableGroups());
    this.#maxBodyBytes = options.maxBodyBytes ?? defaults.maxBodyBytes;
    this.#subscriptions = new LocalSubscriptions(this.#logger);
    this.#server = new DeliveryServer({
      host: options.host ?? defaults.host,
      port: options.port ?? defaults.port,
      advertiseHost: options.advertiseHost,
      token: options.token,
      maxBodyBytes: this.#maxBodyBytes,
      logger: this.#logger,
      receive: (event, queue) =>
        this.#closing ? Promise.resolve('unavailable') : this.#subscriptions.dispatch(event, queue),
    });
    this.#client = new DeliveryClient({
      token: options.token,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? defaults.deliveryTimeoutMs,
      logger: this.#logger,
    });
    this.#cache = new RegistryCache(options.registry, this.#logger);
    this.#directory = new SubscriberDirectory(this.#cache, options.system, (topic, queue) => {
      // A group seen live is durable from now on, even if its own broker could not say so.
      void this.#remember(topic, queue).catch((error: unknown) => {
        this.#logger.warn({ err: error, topic, queue }, 'could not remember queue group');
      });
    });
    this.#registration = new BrokerRegistration({
      registry: options.registry,
      instancePrefix: `${directBrokerServiceName}-${randomBytes(6).toString('hex')}`,
      system: options.system,
      owner: options.owner,
      address: () => this.address,
      advertised: () => this.#subscriptions.advertised(),
    });
  }

  /** `host:port` this broker receives deliveries on. */
  get address(): string {
    return this.#server.address;
  }

  /**
   * Where an event of `topic` would go now, as this broker's registry cache sees it:
   * for inspection tools, and for tests waiting for subscribers to be known.
   */
  subscribers(topic: string): AdvertisedSubscriber[] {
    checkTopic(topic);
    const targets = this.#directory.targetsFor(topic);
    return [
      ...targets.plain.map((t) => ({ address: t.address })),
      ...[...targets.groups].flatMap(([queue, members]) =>
        members.map((t) => ({ address: t.address, queue })),
      ),
    ];
  }

  async publish(topic: string, input: PublishInput, signal?: AbortSignal): Promise<BrokerEvent> {
    checkTopic(topic);
    signal?.throwIfAborted();
    if (this.#closing) throw new ConnectError('broker is closed', Code.Unavailable);
    return producing('berth', topic, input, (traced) => this.#publish(topic, traced, signal));
  }

  async #publish(topic: string, input: PublishInput, signal: AbortSignal | undefined): Promise<BrokerEvent> {
    const { event, body } = encodeEvent(topic, input);
    if (Buffer.byteLength(body) > this.#maxBodyBytes) {
      throw new ConnectError(`event is larger than ${this.#maxBodyBytes} bytes`, Code.InvalidArgument);
    }

    const targets = this.#directory.targetsFor(topic);
    const groups = new Set([...targets.groups.keys(), ...(await this.#durable.groups(topic))]);
    const failures = (
      await Promise.all([
        ...targets.plain.map((target) => this.#deliverPlain(target, event, body, signal)),
        ...[...groups].map((queue) =>
          this.#deliverToGroup(queue, targets.groups.get(queue) ?? [], event, body, signal),
        ),
      ])
    ).filter((failure): failure is string => failure !== undefined);
    if (signal?.aborted) throw new ConnectError(`publish ${event.id} aborted`, Code.Canceled);
    if (failures.length > 0) {
      throw new ConnectError(
        `event ${event.id} on "${topic}" was not acknowledged: ${failures.join('; ')}`,
        Code.Unavailable,
      );
    }
    return event;
  }

  async subscribe(
    topic: string,
    handler: EventHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const queue = checkSubscribe(topic, options, this.#closing !== undefined);
    // Remember first: once a publisher sees the group it must never forget it.
    if (queue !== undefined) await this.#remember(topic, queue);

    const local = this.#subscriptions.add(topic, queue, handler);
    try {
      await this.#registration.sync();
    } catch (error) {
      this.#subscriptions.remove(local);
      throw new ConnectError(
        `could not register the subscription to "${topic}"`,
        Code.Unavailable,
        undefined,
        undefined,
        error,
      );
    }

    let unsubscribed: Promise<void> | undefined;
    const unsubscribe = (): Promise<void> => {
      unsubscribed ??= (async () => {
        options.signal?.removeEventListener('abort', onAbort);
        this.#subscriptions.remove(local);
        await this.#registration.sync();
        await Promise.allSettled(local.inFlight);
      })();
      return unsubscribed;
    };
    const onAbort = () => void unsubscribe();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return { topic, queue, unsubscribe };
  }

  /**
   * Deregisters (publishers stop choosing this broker), lets in-flight handlers finish,
   * then closes the listener, the HTTP connections and the registry watch.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const subscriptions = this.#subscriptions.clear();
      await this.#registration.sync().catch((error: unknown) => {
        this.#logger.warn({ err: error }, 'could not deregister the broker');
      });
      await Promise.allSettled(subscriptions.flatMap((s) => [...s.inFlight]));
      // The server first lets the answers of those handlers (the acks) reach their publishers.
      await this.#server.close();
      await this.#client.close();
      await this.#cache.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #deliverPlain(
    target: Target,
    event: BrokerEvent,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const outcome = await this.#deliver(target, undefined, event, body, signal);
    // `gone`: it unsubscribed meanwhile; plain subscribers only get what is published while they listen.
    if (outcome === 'ack' || outcome === 'gone') return undefined;
    return `subscriber at ${target.address}: ${outcome}`;
  }

  async #deliverToGroup(
    queue: string,
    members: Target[],
    event: BrokerEvent,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    if (members.length === 0) return `queue group "${queue}" has no live member`;
    const start = this.#cursors.next(subscriptionKey(event.topic, queue), members.length);
    const outcomes: string[] = [];
    for (let i = 0; i < members.length; i++) {
      if (signal?.aborted) break;
      const member = members[(start + i) % members.length]!;
      const outcome = await this.#deliver(member, queue, event, body, signal);
      if (outcome === 'ack') return undefined;
      outcomes.push(`${member.address} ${outcome}`);
    }
    return `queue group "${queue}" did not ack (${outcomes.join(', ')})`;
  }

  #deliver(
    target: Target,
    queue: string | undefined,
    event: BrokerEvent,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    if (target.address === this.address) {
      // Our own subscription: skip the loopback, but hand the handler its own copy as HTTP would.
      return this.#subscriptions.dispatch(JSON.parse(body) as BrokerEvent, queue);
    }
    return this.#client.deliver(target.address, queue, event, body, signal);
  }

  async #remember(topic: string, queue: string): Promise<void> {
    const key = subscriptionKey(topic, queue);
    if (this.#remembered.has(key)) return;
    await this.#durable.remember(topic, queue);
    this.#remembered.add(key);
  }
}
