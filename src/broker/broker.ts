/**
 * Broker: events between services, at least once. Implementations beside this file:
 *  - direct-broker.ts: HTTP delivery to subscribers found through the registry
 *    (the embedded default, like go-micro's HTTP broker);
 *  - nats-broker.ts: NATS JetStream with durable consumers.
 * outbox.ts stores events in the sender's database transaction; dedupe.ts lets a
 * consumer drop redelivered duplicates by event id.
 */

export interface BrokerEvent {
  /** Unique id; consumers use it to drop duplicates. */
  readonly id: string;
  readonly topic: string;
  /** JSON-serialisable payload (proto messages travel as proto3 JSON). */
  readonly data: unknown;
  /** ISO-8601 time the event was first published. */
  readonly publishedAt: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface PublishInput {
  readonly id?: string;
  readonly data: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * When the event was first published, if earlier than now: the outbox passes the
   * time the row was written so every retry carries the same `publishedAt`.
   */
  readonly publishedAt?: string;
}

/**
 * Resolving acks the event; throwing (or rejecting) makes the broker redeliver it later.
 */
export type EventHandler = (event: BrokerEvent) => Promise<void>;

export interface SubscribeOptions {
  /**
   * Queue group: each event goes to one subscriber of the group. Without one every
   * subscriber gets every event. Named groups are durable: events published while
   * no member runs wait for one.
   */
  readonly queue?: string;
  readonly signal?: AbortSignal;
}

export interface Subscription {
  readonly topic: string;
  readonly queue?: string;
  unsubscribe(): Promise<void>;
}

export interface Broker {
  /** Resolves once the broker holds the event durably or a subscriber acked it. */
  publish(topic: string, input: PublishInput, signal?: AbortSignal): Promise<BrokerEvent>;
  subscribe(topic: string, handler: EventHandler, options?: SubscribeOptions): Promise<Subscription>;
  /** Stops subscriptions after in-flight handlers finish, then releases connections. */
  close(): Promise<void>;
}
