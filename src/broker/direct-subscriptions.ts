/**
 * The direct broker's own subscriptions, and running their handlers for a delivery:
 * one member of a queue group (round robin among this process's members), or every
 * plain subscriber. Each handler run is tracked, so unsubscribing and closing can
 * wait for the ones in flight, and traced (a CONSUMER span, event-tracing.ts).
 */
import type { Logger } from '../log/logger.ts';
import type { BrokerEvent, EventHandler } from './broker.ts';
import { Cursors } from './cursors.ts';
import type { AdvertisedSubscription } from './direct-membership.ts';
import { type Outcome, subscriptionKey } from './direct-protocol.ts';
import { consuming } from './event-tracing.ts';

export interface LocalSubscription {
  readonly topic: string;
  readonly queue: string | undefined;
  readonly handler: EventHandler;
  active: boolean;
  readonly inFlight: Set<Promise<unknown>>;
}

export class LocalSubscriptions {
  readonly #logger: Logger;
  readonly #byKey = new Map<string, LocalSubscription[]>();
  readonly #cursors = new Cursors();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  add(topic: string, queue: string | undefined, handler: EventHandler): LocalSubscription {
    const local: LocalSubscription = { topic, queue, handler, active: true, inFlight: new Set() };
    const key = subscriptionKey(topic, queue);
    this.#byKey.set(key, [...(this.#byKey.get(key) ?? []), local]);
    return local;
  }

  /** Stops `local` receiving; its handlers in flight go on (see `local.inFlight`). */
  remove(local: LocalSubscription): void {
    local.active = false;
    const key = subscriptionKey(local.topic, local.queue);
    const remaining = (this.#byKey.get(key) ?? []).filter((s) => s !== local);
    if (remaining.length > 0) this.#byKey.set(key, remaining);
    else this.#byKey.delete(key);
  }

  /** Removes every subscription; returns them, so their handlers in flight can be awaited. */
  clear(): LocalSubscription[] {
    const all = [...this.#byKey.values()].flat();
    for (const s of all) s.active = false;
    this.#byKey.clear();
    return all;
  }

  /** What the registry should list for this broker: each active topic and group once. */
  advertised(): AdvertisedSubscription[] {
    const advertised = new Map<string, AdvertisedSubscription>();
    for (const list of this.#byKey.values()) {
      for (const s of list) {
        if (s.active) advertised.set(subscriptionKey(s.topic, s.queue), { topic: s.topic, queue: s.queue });
      }
    }
    return [...advertised.values()];
  }

  /** Runs the local handler(s) for a delivery: one of the group, or every plain subscriber. */
  async dispatch(event: BrokerEvent, queue: string | undefined): Promise<Outcome> {
    const key = subscriptionKey(event.topic, queue);
    const local = (this.#byKey.get(key) ?? []).filter((s) => s.active);
    if (local.length === 0) return 'gone';
    const chosen = queue === undefined ? local : [local[this.#cursors.next(key, local.length)]!];
    const results = await Promise.all(chosen.map((s) => this.#run(s, event)));
    return results.every(Boolean) ? 'ack' : 'nack';
  }

  async #run(subscription: LocalSubscription, event: BrokerEvent): Promise<boolean> {
    const running = consuming({ system: 'berth', event, queue: subscription.queue }, () =>
      subscription.handler(event),
    );
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
