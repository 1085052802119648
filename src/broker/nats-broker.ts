/**
 * NatsBroker: events through NATS JetStream, for Kubernetes or wherever a NATS
 * server runs. JetStream stores every event, so publish resolves once the server
 * holds it, and delivery survives subscribers being down:
 *
 *  - one stream per system (`<subjectPrefix>.>`), created or updated at start;
 *  - publish = JetStream publish with `Nats-Msg-Id` = event id, so a retried
 *    publish (outbox relay) inside the stream's duplicate window is stored once;
 *  - a queue group = a durable pull consumer named after the group and topic,
 *    explicit ack: a handler that resolves acks, one that throws naks with a
 *    growing delay, one that dies is redelivered after `ackWaitMs`;
 *  - a plain subscriber = an ephemeral consumer of new messages, removed on
 *    unsubscribe (or by the server once inactive), with the same ack semantics.
 *
 * The event envelope (id, topic, data, publishedAt, headers) travels as the JSON body;
 * its trace context (event-tracing.ts) is copied into the NATS message headers too
 * (nats-trace-headers.ts). The stream and consumers are set up by nats-jetstream.ts,
 * and each subscription's messages handled by nats-delivery.ts.
 */
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, nuid } from '@nats-io/transport-node';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import type {
  Broker,
  BrokerEvent,
  EventHandler,
  PublishInput,
  SubscribeOptions,
  Subscription,
} from './broker.ts';
import { encodeEvent } from './envelope.ts';
import { producing } from './event-tracing.ts';
import { checkSubscribe, checkTopic } from './names.ts';
import { type ActiveSubscription, consume, type DeliverySettings } from './nats-delivery.ts';
import { type ConsumerSettings, durableName, ensureConsumer, ensureStream } from './nats-jetstream.ts';
import { natsServers } from './nats-servers.ts';
import { traceHeaders } from './nats-trace-headers.ts';

export interface NatsBrokerOptions {
  /**
   * NATS URL(s), comma-separated or a list, with credentials as other NATS clients
   * take them (`nats://user:password@host:4222`, nats-servers.ts). Default
   * `nats://127.0.0.1:4222`. Ignored when `connection` is given.
   */
  readonly servers?: string | readonly string[];
  /** An open connection to use instead; the caller keeps owning it (close() does not drain it). */
  readonly connection?: NatsConnection;
  /** Connection name shown by the server's monitoring. */
  readonly name?: string;
  readonly logger?: Logger;
  /** JetStream stream holding this system's events. Default `berth`. */
  readonly stream?: string;
  /** Subject prefix: topic `user.created` is subject `<prefix>.user.created`. Default `berth`. */
  readonly subjectPrefix?: string;
  /** How long a delivered event may stay unacked before JetStream redelivers it. Default 30 s. */
  readonly ackWaitMs?: number;
  /** Deliveries per event before JetStream gives up; -1 (default) never gives up. */
  readonly maxDeliver?: number;
  /** Delay of the first redelivery after a handler throws; doubles up to the max. Defaults 1 s and 30 s. */
  readonly minRedeliveryDelayMs?: number;
  readonly maxRedeliveryDelayMs?: number;
  /** How long the stream keeps events. Default 7 days. */
  readonly maxAgeMs?: number;
  /** Window in which a repeated event id is stored once. Default 2 min. */
  readonly duplicateWindowMs?: number;
  /** Stream replicas (1 for a single server). Default 1. */
  readonly replicas?: number;
  /**
   * Where a queue group that has never subscribed before starts: `new` (default)
   * events published from now on, as with the direct broker; `all` everything the
   * stream still holds for its topic.
   */
  readonly newGroupsStartAt?: 'new' | 'all';
  /** How long publish waits for the server's ack. Default 5 s. */
  readonly publishTimeoutMs?: number;
  /** Messages pulled ahead per subscription. Default 16. */
  readonly prefetch?: number;
}

const defaults = {
  servers: 'nats://127.0.0.1:4222',
  stream: 'berth',
  subjectPrefix: 'berth',
  ackWaitMs: 30_000,
  maxDeliver: -1,
  minRedeliveryDelayMs: 1000,
  maxRedeliveryDelayMs: 30_000,
  maxAgeMs: 7 * 24 * 60 * 60 * 1000,
  duplicateWindowMs: 2 * 60 * 1000,
  replicas: 1,
  publishTimeoutMs: 5000,
  prefetch: 16,
};

export class NatsBroker implements Broker {
  readonly #nc: NatsConnection;
  readonly #owned: boolean;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #logger: Logger;
  readonly #prefix: string;
  readonly #consumers: ConsumerSettings;
  readonly #delivery: DeliverySettings;
  readonly #publishTimeoutMs: number;
  readonly #subscriptions = new Set<ActiveSubscription>();
  #closing: Promise<void> | undefined;

  /** Connects (unless given a connection), then creates or updates the stream. */
  static async connect(options: NatsBrokerOptions = {}): Promise<NatsBroker> {
    const owned = options.connection === undefined;
    const nc =
      options.connection ??
      (await connect({
        ...natsServers(options.servers ?? defaults.servers),
        name: options.name,
        maxReconnectAttempts: -1,
      }));
    try {
      const jsm = await jetstreamManager(nc);
      const broker = new NatsBroker(nc, owned, jsm, options);
      await ensureStream(jsm, broker.#consumers.stream, `${broker.#prefix}.>`, {
        maxAgeMs: options.maxAgeMs ?? defaults.maxAgeMs,
        duplicateWindowMs: options.duplicateWindowMs ?? defaults.duplicateWindowMs,
        replicas: options.replicas ?? defaults.replicas,
      });
      return broker;
    } catch (error) {
      if (owned) await nc.close();
      throw error;
    }
  }

  private constructor(nc: NatsConnection, owned: boolean, jsm: JetStreamManager, options: NatsBrokerOptions) {
    this.#nc = nc;
    this.#owned = owned;
    this.#jsm = jsm;
    this.#js = jetstream(nc);
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'nats-broker' });
    this.#prefix = options.subjectPrefix ?? defaults.subjectPrefix;
    checkTopic(this.#prefix);
    const ackWaitMs = options.ackWaitMs ?? defaults.ackWaitMs;
    this.#consumers = {
      stream: options.stream ?? defaults.stream,
      ackWaitMs,
      maxDeliver: options.maxDeliver ?? defaults.maxDeliver,
      prefetch: options.prefetch ?? defaults.prefetch,
      newGroupsStartAt: options.newGroupsStartAt ?? 'new',
    };
    this.#delivery = {
      logger: this.#logger,
      ackWaitMs,
      minRedeliveryDelayMs: options.minRedeliveryDelayMs ?? defaults.minRedeliveryDelayMs,
      maxRedeliveryDelayMs: options.maxRedeliveryDelayMs ?? defaults.maxRedeliveryDelayMs,
    };
    this.#publishTimeoutMs = options.publishTimeoutMs ?? defaults.publishTimeoutMs;
    if (owned) void this.#watchStatus();
  }

  /** The connection, e.g. for health checks (`isClosed()`, `status()`). */
  get connection(): NatsConnection {
    return this.#nc;
  }
  /**
   * Readiness: a round trip to the server, so it fails while the connection is
   * closed, or disconnected and reconnecting; rejects when `signal` aborts first.
   */
  async check(signal: AbortSignal): Promise<void> {
    if (this.#nc.isClosed()) throw new Error('NATS connection closed');
    await raceAbort(this.#nc.flush(), signal).catch((error: unknown) => {
      throw signal.aborted ? new Error('NATS did not answer in time') : error;
    });
  }

  async publish(topic: string, input: PublishInput, signal?: AbortSignal): Promise<BrokerEvent> {
    checkTopic(topic);
    signal?.throwIfAborted();
    if (this.#closing) throw new ConnectError('broker is closed', Code.Unavailable);
    return producing('nats', topic, input, (traced) => this.#publish(topic, traced, signal));
  }

  async #publish(topic: string, input: PublishInput, signal: AbortSignal | undefined): Promise<BrokerEvent> {
    const { event, body } = encodeEvent(topic, input);
    // Too large for the server is as permanent as unserialisable: no retry can store it.
    const maxPayload = this.#nc.info?.max_payload;
    if (maxPayload !== undefined && Buffer.byteLength(body) > maxPayload) {
      throw new ConnectError(
        `event is larger than the NATS server's max_payload of ${maxPayload} bytes`,
        Code.InvalidArgument,
      );
    }
    const published = this.#js.publish(this.#subject(topic), body, {
      msgID: event.id,
      timeout: this.#publishTimeoutMs,
      headers: traceHeaders(event.headers),
    });
    try {
      const ack = signal ? await raceAbort(published, signal) : await published;
      if (ack.duplicate) this.#logger.debug({ eventId: event.id, topic }, 'duplicate publish stored once');
    } catch (error) {
      if (signal?.aborted) throw new ConnectError(`publish ${event.id} aborted`, Code.Canceled);
      throw new ConnectError(
        `event ${event.id} on "${topic}" was not stored by JetStream: ${error instanceof Error ? error.message : String(error)}`,
        Code.Unavailable,
        undefined,
        undefined,
        error,
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

    const ephemeral = queue === undefined;
    const consumer = ephemeral ? `berth_${nuid.next()}` : durableName(queue, topic);
    await ensureConsumer(this.#jsm, this.#consumers, {
      name: consumer,
      topic,
      subject: this.#subject(topic),
      ephemeral,
    });
    const messages = await (await this.#js.consumers.get(this.#consumers.stream, consumer)).consume({
      max_messages: this.#consumers.prefetch,
    });
    const active: ActiveSubscription = {
      topic,
      queue,
      consumer,
      ephemeral,
      messages,
      stopping: false,
      running: Promise.resolve(),
    };
    active.running = consume(active, handler, this.#delivery);
    this.#subscriptions.add(active);

    let unsubscribed: Promise<void> | undefined;
    const unsubscribe = (): Promise<void> => {
      unsubscribed ??= (async () => {
        options.signal?.removeEventListener('abort', onAbort);
        await this.#stop(active);
        this.#subscriptions.delete(active);
      })();
      return unsubscribed;
    };
    const onAbort = () => void unsubscribe();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return { topic, queue, unsubscribe };
  }

  /** Stops every subscription after its in-flight handler, then drains the connection if it owns it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((s) => this.#stop(s)));
      this.#subscriptions.clear();
      if (this.#owned && !this.#nc.isClosed()) {
        await this.#nc.drain().catch((error: unknown) => {
          this.#logger.warn({ err: error }, 'draining the NATS connection failed');
        });
      }
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #subject(topic: string): string {
    return `${this.#prefix}.${topic}`;
  }

  async #stop(active: ActiveSubscription): Promise<void> {
    if (!active.stopping) {
      active.stopping = true;
      await active.messages.close();
    }
    await active.running;
    if (active.ephemeral && !this.#nc.isClosed()) {
      await this.#jsm.consumers.delete(this.#consumers.stream, active.consumer).catch(() => {
        // Gone already; the server removes inactive ephemeral consumers anyway.
      });
    }
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
        this.#logger.info({ status: status.type }, 'NATS connection status');
      }
    }
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
