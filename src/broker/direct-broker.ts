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
 *
 *   publisher                         registry                      subscriber
 *     │ publish(topic)                   │  berth.broker instances     │
 *     │── cache lookup (no I/O) ◄────────┤◄── register {subscriptions} ─│ subscribe()
 *     │── POST /berth/broker/v1/deliver ───────────────────────────────►│ handler(event)
 *     │◄───────────────────────────────── 200 ack / 500 nack ───────────│
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from 'undici';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import type { Registry, ServiceInstance } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import type {
  Broker,
  BrokerEvent,
  EventHandler,
  PublishInput,
  SubscribeOptions,
  Subscription,
} from './broker.ts';
import { type DurableGroups, FileDurableGroups, MemoryDurableGroups } from './durable-groups.ts';
import { encodeEvent, parseEvent } from './envelope.ts';
import { checkSubscribe, checkTopic, isQueue } from './names.ts';

/** Registry service name under which direct brokers with subscriptions register. */

// Not an ESM import: see src/service/dual-protocol-server.ts (it would load node:http2 and undici).
const { createServer } = process.getBuiltinModule('node:http');

export const directBrokerServiceName = 'berth.broker';
/** Path of the delivery endpoint every direct broker serves. */
export const deliverPath = '/berth/broker/v1/deliver';
/** Request header naming the queue group a delivery is for; absent for plain subscribers. */
export const queueHeader = 'berth-queue';

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

/** What a direct broker publishes about itself in `metadata.subscriptions`. */
export interface AdvertisedSubscription {
  readonly topic: string;
  readonly queue?: string;
}

export interface AdvertisedSubscriber {
  readonly address: string;
  readonly queue?: string;
}

interface Target {
  readonly instanceId: string;
  readonly address: string;
}

interface TopicTargets {
  readonly plain: Target[];
  readonly groups: Map<string, Target[]>;
}

interface LocalSubscription {
  readonly topic: string;
  readonly queue: string | undefined;
  readonly handler: EventHandler;
  active: boolean;
  readonly inFlight: Set<Promise<unknown>>;
}

/** ack: handler resolved. nack: handler threw. gone: no such subscription there. */
type Outcome = 'ack' | 'nack' | 'gone' | 'unavailable' | 'rejected';

const outcomeByStatus: Record<number, Outcome> = { 200: 'ack', 500: 'nack', 404: 'gone', 503: 'unavailable' };
const statusByOutcome: Record<Outcome, number> = {
  ack: 200,
  nack: 500,
  gone: 404,
  unavailable: 503,
  rejected: 400,
};

function subscriptionKey(topic: string, queue: string | undefined): string {
  return `${topic}\u0000${queue ?? ''}`;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
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

export class DirectBroker implements Broker {
  readonly #registry: Registry;
  readonly #logger: Logger;
  readonly #system: string | undefined;
  readonly #owner: string | undefined;
  readonly #durable: DurableGroups;
  readonly #maxBodyBytes: number;
  readonly #deliveryTimeoutMs: number;
  readonly #server: Server;
  /** undici, loaded by the first delivery to another process: ~10 MB that subscribers alone never need. */
  #agent: Promise<Agent> | undefined;
  readonly #cache: RegistryCache;
  readonly #instancePrefix = `${directBrokerServiceName}-${randomBytes(6).toString('hex')}`;
  #address = '';
  #generation = 0;
  /** Registered instance id and the subscriptions it advertises. */
  #registered: { id: string; subscriptions: string } | undefined;
  #registration: Promise<void> = Promise.resolve();
  readonly #subscriptions = new Map<string, LocalSubscription[]>();
  /** Round-robin cursors, by `topic\0queue`, for remote members and for local subscriptions. */
  readonly #cursors = new Map<string, number>();
  #targets = new Map<string, TopicTargets>();
  /** Groups already handed to DurableGroups by this process. */
  readonly #remembered = new Set<string>();
  /** Delivery requests being answered. */
  readonly #requests = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  /** Starts the delivery listener and the registry watch; resolves when both are ready. */
  static async start(options: DirectBrokerOptions): Promise<DirectBroker> {
    const broker = new DirectBroker(options);
    try {
      await broker.#listen(
        options.host ?? defaults.host,
        options.port ?? defaults.port,
        options.advertiseHost,
      );
      await broker.#cache.start();
    } catch (error) {
      await broker.close();
      throw error;
    }
    return broker;
  }

  private constructor(options: DirectBrokerOptions) {
    this.#registry = options.registry;
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'direct-broker' });
    this.#system = options.system;
    this.#owner = options.owner;
    this.#durable =
      options.durableGroups ??
      (options.stateDir ? new FileDurableGroups(options.stateDir) : new MemoryDurableGroups());
    this.#maxBodyBytes = options.maxBodyBytes ?? defaults.maxBodyBytes;
    this.#deliveryTimeoutMs = options.deliveryTimeoutMs ?? defaults.deliveryTimeoutMs;
    this.#server = createServer((req, res) => {
      const serving = this.#serve(req, res);
      this.#requests.add(serving);
      void serving.finally(() => this.#requests.delete(serving));
    });
    this.#server.keepAliveTimeout = 60_000;
    // Bounds receiving a delivery (not running its handler), so close() never waits on a stalled sender.
    this.#server.requestTimeout = 10_000;
    this.#cache = new RegistryCache(this.#registry, this.#logger);
    this.#cache.onChange(() => {
      this.#targets = new Map();
    });
  }

  /** `host:port` this broker receives deliveries on. */
  get address(): string {
    return this.#address;
  }

  /**
   * Where an event of `topic` would go now, as this broker's registry cache sees it:
   * for inspection tools, and for tests waiting for subscribers to be known.
   */
  subscribers(topic: string): AdvertisedSubscriber[] {
    checkTopic(topic);
    const targets = this.#targetsFor(topic);
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
    const { event, body } = encodeEvent(topic, input);
    if (Buffer.byteLength(body) > this.#maxBodyBytes) {
      throw new ConnectError(`event is larger than ${this.#maxBodyBytes} bytes`, Code.InvalidArgument);
    }

    const targets = this.#targetsFor(topic);
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

    const local: LocalSubscription = { topic, queue, handler, active: true, inFlight: new Set() };
    const key = subscriptionKey(topic, queue);
    const removeLocal = () => {
      const remaining = (this.#subscriptions.get(key) ?? []).filter((s) => s !== local);
      if (remaining.length > 0) this.#subscriptions.set(key, remaining);
      else this.#subscriptions.delete(key);
    };
    this.#subscriptions.set(key, [...(this.#subscriptions.get(key) ?? []), local]);
    try {
      await this.#syncRegistration();
    } catch (error) {
      local.active = false;
      removeLocal();
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
        local.active = false;
        options.signal?.removeEventListener('abort', onAbort);
        removeLocal();
        await this.#syncRegistration();
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
      const subscriptions = [...this.#subscriptions.values()].flat();
      for (const s of subscriptions) s.active = false;
      this.#subscriptions.clear();
      await this.#syncRegistration().catch((error: unknown) => {
        this.#logger.warn({ err: error }, 'could not deregister the broker');
      });
      await Promise.allSettled(subscriptions.flatMap((s) => [...s.inFlight]));
      // Let the answers of those handlers (the acks) reach their publishers.
      await Promise.allSettled(this.#requests);
      await new Promise<void>((resolve) => {
        if (!this.#server.listening) return resolve();
        const force = setTimeout(() => this.#server.closeAllConnections(), 1000);
        this.#server.close(() => {
          clearTimeout(force);
          resolve();
        });
        this.#server.closeIdleConnections();
      });
      await (await this.#agent)?.close();
      await this.#cache.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- publishing --------------------------------------------------------------

  #targetsFor(topic: string): TopicTargets {
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
          // A group seen live is durable from now on, even if its own broker could not say so.
          void this.#remember(topic, s.queue).catch((error: unknown) => {
            this.#logger.warn({ err: error, topic, queue: s.queue }, 'could not remember queue group');
          });
        }
      }
    }
    this.#targets.set(topic, found);
    return found;
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
    const start = this.#nextCursor(subscriptionKey(event.topic, queue), members.length);
    const outcomes: string[] = [];
    for (let i = 0; i < members.length; i++) {
      if (signal?.aborted) break;
      const member = members[(start + i) % members.length];
      const outcome = await this.#deliver(member, queue, event, body, signal);
      if (outcome === 'ack') return undefined;
      outcomes.push(`${member.address} ${outcome}`);
    }
    return `queue group "${queue}" did not ack (${outcomes.join(', ')})`;
  }

  #deliveryAgent(): Promise<Agent> {
    this.#agent ??= import('undici').then(
      ({ Agent }) =>
        new Agent({
          keepAliveTimeout: 30_000,
          connections: 16,
          headersTimeout: this.#deliveryTimeoutMs,
          bodyTimeout: this.#deliveryTimeoutMs,
          connectTimeout: 5_000,
        }),
    );
    return this.#agent;
  }

  async #deliver(
    target: Target,
    queue: string | undefined,
    event: BrokerEvent,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    if (target.address === this.#address) {
      // Our own subscription: skip the loopback, but hand the handler its own copy as HTTP would.
      return this.#dispatch(JSON.parse(body) as BrokerEvent, queue);
    }
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (queue !== undefined) headers[queueHeader] = queue;
      const response = await (await this.#deliveryAgent()).request({
        origin: `http://${target.address}`,
        path: deliverPath,
        method: 'POST',
        headers,
        body,
        signal,
      });
      await response.body.dump();
      const outcome = outcomeByStatus[response.statusCode] ?? 'rejected';
      if (outcome !== 'ack') {
        this.#logger.debug(
          {
            eventId: event.id,
            topic: event.topic,
            queue,
            target: target.address,
            status: response.statusCode,
          },
          'delivery not acknowledged',
        );
      }
      return outcome;
    } catch (error) {
      this.#logger.debug(
        { err: error, eventId: event.id, topic: event.topic, queue, target: target.address },
        'delivery failed',
      );
      return 'unavailable';
    }
  }

  #nextCursor(key: string, size: number): number {
    const cursor = this.#cursors.get(key) ?? 0;
    this.#cursors.set(key, (cursor + 1) % Number.MAX_SAFE_INTEGER);
    return cursor % size;
  }

  async #remember(topic: string, queue: string): Promise<void> {
    const key = subscriptionKey(topic, queue);
    if (this.#remembered.has(key)) return;
    await this.#durable.remember(topic, queue);
    this.#remembered.add(key);
  }

  // --- subscribing ---------------------------------------------------------------

  async #listen(host: string, port: number, advertiseHost: string | undefined): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const bound = this.#server.address() as AddressInfo;
    const advertised = advertiseHost ?? (isWildcard(host) ? '127.0.0.1' : host);
    this.#address = `${formatHost(advertised)}:${bound.port}`;
  }

  /**
   * Brings the registry in line with the active subscriptions, one change at a time.
   * Some registries only announce additions and removals, never updates, so a change
   * registers a new instance id (next generation) before removing the old one.
   */
  #syncRegistration(): Promise<void> {
    const run = async () => {
      const advertised = new Map<string, AdvertisedSubscription>();
      for (const list of this.#subscriptions.values()) {
        for (const s of list) {
          if (s.active) advertised.set(subscriptionKey(s.topic, s.queue), { topic: s.topic, queue: s.queue });
        }
      }
      const subscriptions = JSON.stringify([...advertised.values()]);
      const previous = this.#registered;
      if (advertised.size === 0) {
        if (previous) {
          this.#registered = undefined;
          await this.#registry.deregister(previous.id);
        }
        return;
      }
      if (previous?.subscriptions === subscriptions) return;
      this.#generation += 1;
      const instance: ServiceInstance = {
        id: `${this.#instancePrefix}-${this.#generation}`,
        name: directBrokerServiceName,
        system: this.#system,
        version: '1',
        address: this.#address,
        protoServices: [],
        metadata: {
          subscriptions,
          generation: String(this.#generation),
          pid: String(process.pid),
          ...(this.#owner ? { owner: this.#owner } : {}),
        },
      };
      await this.#registry.register(instance);
      this.#registered = { id: instance.id, subscriptions };
      if (previous) await this.#registry.deregister(previous.id);
    };
    const next = this.#registration.then(run, run);
    this.#registration = next.catch(() => {});
    return next;
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = (status: number, message: string, close = false) => {
      if (res.headersSent) return;
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(close ? { connection: 'close' } : {}),
      });
      res.end(JSON.stringify(status === 200 ? {} : { error: message }));
    };
    try {
      const path = (req.url ?? '').split('?')[0];
      if (path !== deliverPath) return answer(404, 'not found');
      if (req.method !== 'POST') return answer(405, 'method not allowed');
      const body = await this.#readBody(req);
      if (body === undefined) return answer(413, 'event too large', true);
      const event = parseEvent(body);
      const queueValue = req.headers[queueHeader];
      const queue = typeof queueValue === 'string' && queueValue !== '' ? queueValue : undefined;
      if (!event || (queue !== undefined && !isQueue(queue))) {
        return answer(
          400,
          'malformed delivery: expected a JSON event {id, topic, data, publishedAt, headers}',
        );
      }
      if (this.#closing) return answer(503, 'broker is closing');
      const outcome = await this.#dispatch(event, queue);
      answer(statusByOutcome[outcome], outcome === 'nack' ? 'handler failed' : outcome);
    } catch (error) {
      this.#logger.warn({ err: error }, 'delivery request failed');
      answer(400, 'bad request', true);
    }
  }

  /**
   * The body as text, or undefined when it exceeds the limit. An oversized body is read
   * and dropped (so the sender gets to see the 413), up to a bound past which the
   * connection is cut.
   */
  async #readBody(req: IncomingMessage): Promise<string | undefined> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > 8 * this.#maxBodyBytes) {
      req.destroy();
      return undefined;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 8 * this.#maxBodyBytes) {
        req.destroy();
        return undefined;
      }
      if (size <= this.#maxBodyBytes) chunks.push(chunk as Buffer);
    }
    return size > this.#maxBodyBytes ? undefined : Buffer.concat(chunks).toString('utf8');
  }

  /** Runs the local handler(s) for a delivery: one of the group, or every plain subscriber. */
  async #dispatch(event: BrokerEvent, queue: string | undefined): Promise<Outcome> {
    const key = subscriptionKey(event.topic, queue);
    const local = (this.#subscriptions.get(key) ?? []).filter((s) => s.active);
    if (local.length === 0) return 'gone';
    const chosen = queue === undefined ? local : [local[this.#nextCursor(`local\u0000${key}`, local.length)]];
    const results = await Promise.all(chosen.map((s) => this.#run(s, event)));
    return results.every(Boolean) ? 'ack' : 'nack';
  }

  async #run(subscription: LocalSubscription, event: BrokerEvent): Promise<boolean> {
    const running = (async () => subscription.handler(event))();
    subscription.inFlight.add(running);
    try {
      await running;
      return true;
    } catch (error) {
      this.#logger.warn(
        { err: error, eventId: event.id, topic: event.topic, queue: subscription.queue },
        'event handler failed; the event will be redelivered',
      );
      return false;
    } finally {
      subscription.inFlight.delete(running);
    }
  }
}
