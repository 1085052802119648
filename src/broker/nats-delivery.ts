/**
 * A NatsBroker subscription's delivery loop: each message pulled is parsed, handed
 * to the handler in its consumer span (event-tracing.ts) and answered with explicit
 * ack semantics: resolved, ack; thrown, nak with a delay doubling per delivery;
 * not a berth event, term. A slow handler keeps telling JetStream it is working, so
 * the event is not redelivered meanwhile.
 */
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../log/logger.ts';
import type { EventHandler } from './broker.ts';
import { parseEvent } from './envelope.ts';
import { consuming } from './event-tracing.ts';

export interface ActiveSubscription {
  readonly topic: string;
  readonly queue: string | undefined;
  readonly consumer: string;
  readonly ephemeral: boolean;
  readonly messages: ConsumerMessages;
  stopping: boolean;
  running: Promise<void>;
}

export interface DeliverySettings {
  readonly logger: Logger;
  readonly ackWaitMs: number;
  readonly minRedeliveryDelayMs: number;
  readonly maxRedeliveryDelayMs: number;
}

/** Handles `active`'s messages one at a time until its messages close; resolves then. */
export async function consume(
  active: ActiveSubscription,
  handler: EventHandler,
  settings: DeliverySettings,
): Promise<void> {
  try {
    for await (const message of active.messages) {
      if (active.stopping) {
        // Pulled ahead but not started: hand it straight back for another member.
        message.nak();
        continue;
      }
      await handle(active, message, handler, settings);
    }
  } catch (error) {
    if (!active.stopping) {
      settings.logger.error({ err: error, topic: active.topic, queue: active.queue }, 'subscription stopped');
    }
  }
}

async function handle(
  active: ActiveSubscription,
  message: JsMsg,
  handler: EventHandler,
  settings: DeliverySettings,
): Promise<void> {
  const event = parseEvent(message.string());
  if (event === undefined) {
    settings.logger.error(
      { subject: message.subject, seq: message.seq },
      'dropping a message that is not a berth event',
    );
    message.term('not a berth event');
    return;
  }
  const progress = setInterval(() => message.working(), Math.max(500, settings.ackWaitMs / 2));
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
      settings.maxRedeliveryDelayMs,
      settings.minRedeliveryDelayMs * 2 ** Math.min(deliveries - 1, 20),
    );
    settings.logger.warn(
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
