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
 * its trace context (event-tracing.ts) is copied into the NATS message headers too,
 * for NATS tools and other OpenTelemetry-aware consumers of the stream.
 */
import { createHash } from 'node:crypto';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect, headers, type MsgHdrs, type NatsConnection, nanos, nuid } from '@nats-io/transport-node';
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
import { encodeEvent, parseEvent } from './envelope.ts';
import { consuming, producing } from './event-tracing.ts';
import { checkSubscribe, checkTopic } from './names.ts';

export interface NatsBrokerOptions {
  /** NATS URL(s). Default `nats://127.0.0.1:4222`. Ignored when `connection` is given. */
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
  ephemeralInactiveMs: 30_000,
};

interface ActiveSubscription {
  readonly topic: string;
  readonly queue: string | undefined;
  readonly consumer: string;
  readonly ephemeral: boolean;
  readonly messages: ConsumerMessages;
  stopping: boolean;
  running: Promise<void>;
}

/** Durable consumer name of a queue group on a topic: readable, and unique per (queue, topic). */
export function durableName(queue: string, topic: string): string {
  const hash = createHash('sha256').update(topic).digest('hex').slice(0, 8);
  return `${queue}_${topic.replaceAll('.', '_')}_${hash}`;
}

export class NatsBroker implements Broker {
  readonly #nc: NatsConnection;
  readonly #owned: boolean;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #logger: Logger;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #ackWaitMs: number;
  readonly #maxDeliver: number;
  readonly #minRedeliveryDelayMs: number;
  readonly #maxRedeliveryDelayMs: number;
  readonly #newGroupsStartAt: 'new' | 'all';
  readonly #publishTimeoutMs: number;
  readonly #prefetch: number;
  readonly #subscriptions = new Set<ActiveSubscription>();
  #closing: Promise<void> | undefined;

  /** Connects (unless given a connection), then creates or updates the stream. */
  static async connect(options: NatsBrokerOptions = {}): Promise<NatsBroker> {
    const owned = options.connection === undefined;
    const nc =
      options.connection ??
      (await connect({
        servers:
          typeof options.servers === 'string'
            ? options.servers
            : [...(options.servers ?? [defaults.servers])],
        name: options.name,
        maxReconnectAttempts: -1,
      }));
    try {
      const jsm = await jetstreamManager(nc);
      const broker = new NatsBroker(nc, owned, jsm, options);
      await broker.#ensureStream({
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
    this.#stream = options.stream ?? defaults.stream;
    this.#prefix = options.subjectPrefix ?? defaults.subjectPrefix;
    checkTopic(this.#prefix);
    this.#ackWaitMs = options.ackWaitMs ?? defaults.ackWaitMs;
    this.#maxDeliver = options.maxDeliver ?? defaults.maxDeliver;
    this.#minRedeliveryDelayMs = options.minRedeliveryDelayMs ?? defaults.minRedeliveryDelayMs;
    this.#maxRedeliveryDelayMs = options.maxRedeliveryDelayMs ?? defaults.maxRedeliveryDelayMs;
    this.#newGroupsStartAt = options.newGroupsStartAt ?? 'new';
    this.#publishTimeoutMs = options.publishTimeoutMs ?? defaults.publishTimeoutMs;
    this.#prefetch = options.prefetch ?? defaults.prefetch;
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
    await this.#ensureConsumer(consumer, topic, ephemeral);
    const messages = await (await this.#js.consumers.get(this.#stream, consumer)).consume({
      max_messages: this.#prefetch,
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
    active.running = this.#consume(active, handler);
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

  async #ensureStream(limits: {
    maxAgeMs: number;
    duplicateWindowMs: number;
    replicas: number;
  }): Promise<void> {
    const subject = `${this.#prefix}.>`;
    const settings = {
      max_age: nanos(limits.maxAgeMs),
      duplicate_window: nanos(limits.duplicateWindowMs),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const info = await this.#jsm.streams.info(this.#stream);
        const subjects = info.config.subjects ?? [];
        await this.#jsm.streams.update(this.#stream, {
          ...settings,
          subjects: subjects.includes(subject) ? subjects : [...subjects, subject],
        });
        return;
      } catch (error) {
        if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      }
      const config: Partial<StreamConfig> & { name: string } = {
        name: this.#stream,
        subjects: [subject],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        num_replicas: limits.replicas,
        ...settings,
      };
      try {
        await this.#jsm.streams.add(config);
        return;
      } catch (error) {
        // Another process created it meanwhile: go round once more to update it.
        if (attempt > 0) throw error;
      }
    }
  }

  async #ensureConsumer(name: string, topic: string, ephemeral: boolean): Promise<void> {
    const editable: Partial<ConsumerConfig> = {
      ack_wait: nanos(this.#ackWaitMs),
      max_deliver: this.#maxDeliver,
      max_ack_pending: Math.max(1000, this.#prefetch * 4),
    };
    if (!ephemeral) {
      try {
        await this.#jsm.consumers.info(this.#stream, name);
        await this.#jsm.consumers.update(this.#stream, name, editable);
        return;
      } catch (error) {
        if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      }
    }
    const config: Partial<ConsumerConfig> = {
      ...editable,
      ...(ephemeral
        ? { name, inactive_threshold: nanos(defaults.ephemeralInactiveMs) }
        : { durable_name: name, description: `berth queue group for ${topic}` }),
      filter_subject: this.#subject(topic),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: !ephemeral && this.#newGroupsStartAt === 'all' ? DeliverPolicy.All : DeliverPolicy.New,
    };
    try {
      await this.#jsm.consumers.add(this.#stream, config);
    } catch (error) {
      // A replica of the same group created it at the same moment.
      if (ephemeral) throw error;
      await this.#jsm.consumers.info(this.#stream, name);
    }
  }

  async #consume(active: ActiveSubscription, handler: EventHandler): Promise<void> {
    try {
      for await (const message of active.messages) {
        if (active.stopping) {
          // Pulled ahead but not started: hand it straight back for another member.
          message.nak();
          continue;
        }
        await this.#handle(active, message, handler);
      }
    } catch (error) {
      if (!active.stopping) {
        this.#logger.error({ err: error, topic: active.topic, queue: active.queue }, 'subscription stopped');
      }
    }
  }

  async #handle(active: ActiveSubscription, message: JsMsg, handler: EventHandler): Promise<void> {
    const event = parseEvent(message.string());
    if (event === undefined) {
      this.#logger.error(
        { subject: message.subject, seq: message.seq },
        'dropping a message that is not a berth event',
      );
      message.term('not a berth event');
      return;
    }
    // Tell JetStream a slow handler is still at it, so the event is not redelivered meanwhile.
    const progress = setInterval(() => message.working(), Math.max(500, this.#ackWaitMs / 2));
    const delivery = {
      system: 'nats',
      event,
      queue: active.queue,
      deliveryCount: message.info.deliveryCount,
    } as const;
    try {
      await consuming(delivery, () => handler(event));
      message.ack();
    } catch (error) {
      const deliveries = message.info.deliveryCount;
      const delay = Math.min(
        this.#maxRedeliveryDelayMs,
        this.#minRedeliveryDelayMs * 2 ** Math.min(deliveries - 1, 20),
      );
      this.#logger.warn(
        {
          err: error,
          eventId: event.id,
          topic: event.topic,
          queue: active.queue,
          deliveries,
          retryInMs: delay,
        },
        'event handler failed; the event will be redelivered',
      );
      message.nak(delay);
    } finally {
      clearInterval(progress);
    }
  }

  async #stop(active: ActiveSubscription): Promise<void> {
    if (!active.stopping) {
      active.stopping = true;
      await active.messages.close();
    }
    await active.running;
    if (active.ephemeral && !this.#nc.isClosed()) {
      await this.#jsm.consumers.delete(this.#stream, active.consumer).catch(() => {
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

/** The event's W3C trace context (and baggage) headers as NATS message headers; undefined when it has none. */
function traceHeaders(eventHeaders: Readonly<Record<string, string>>): MsgHdrs | undefined {
  let result: MsgHdrs | undefined;
  for (const name of ['traceparent', 'tracestate', 'baggage']) {
    const value = eventHeaders[name];
    if (value === undefined) continue;
    result ??= headers();
    result.set(name, value);
  }
  return result;
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
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
