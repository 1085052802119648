/**
 * Trace context across events, with `@opentelemetry/api` only: the process entry
 * registers the SDK (src/telemetry); without one nothing of OpenTelemetry is loaded
 * (../telemetry/opentelemetry-api.ts) and events carry no extra headers.
 *
 *   request span ── enqueue(): traceparent/tracestate stored in the row's headers
 *        └─ PRODUCER "send <topic>"   one per publish attempt (the relay's retries
 *             │                       too), parent = the event's stored context
 *             └─ CONSUMER "process <topic>"   one per delivery (redeliveries too),
 *                                             parent = that producer span
 *
 * The context travels in the event's own headers (envelope.ts), which both brokers
 * carry to the consumer unchanged; the producer span replaces the stored
 * traceparent with its own on the way out, so the row keeps the request's.
 */
import { randomUUID } from 'node:crypto';
import type { Attributes, Span } from '@opentelemetry/api';
import { type OpenTelemetryApi, openTelemetry } from '../telemetry/opentelemetry-api.ts';
import type { BrokerEvent, PublishInput } from './broker.ts';

/** `messaging.system` of each broker: the direct broker is berth's own protocol. */
export type MessagingSystem = 'berth' | 'nats';

/** Span attribute with the delivery count JetStream reports (no registered convention names one). */
export const deliveryCountAttribute = 'berth.messaging.delivery_count';

/**
 * `headers` with the active trace context added (W3C `traceparent`, `tracestate`),
 * for storing beside the event. Without an active span, or without an SDK, a copy
 * of `headers` as they are.
 */
export async function withActiveTraceContext(
  headers: Readonly<Record<string, string>> | undefined,
): Promise<Record<string, string>> {
  const carrier = { ...headers };
  const api = await openTelemetry();
  api?.propagation.inject(api.context.active(), carrier);
  return carrier;
}

/**
 * Runs one broker publish of `input` in a PRODUCER span whose parent is the event's
 * own trace context (stored by enqueue) or else the active one; `send` gets the
 * input with headers carrying the producer span's context. A rejected publish ends
 * the span with status ERROR.
 */
export async function producing<T>(
  system: MessagingSystem,
  topic: string,
  input: PublishInput,
  send: (input: PublishInput) => Promise<T>,
): Promise<T> {
  const api = await openTelemetry();
  if (api === undefined) return send(input);
  const id = input.id ?? randomUUID();
  const parent = api.propagation.extract(api.context.active(), input.headers ?? {});
  const span = tracer(api).startSpan(
    `send ${topic}`,
    { kind: api.SpanKind.PRODUCER, attributes: messagingAttributes(system, topic, id, 'send') },
    parent,
  );
  const active = api.trace.setSpan(parent, span);
  const headers = { ...input.headers };
  api.propagation.inject(active, headers);
  try {
    return await api.context.with(active, () => send({ ...input, id, headers }));
  } catch (error) {
    failed(api, span, error);
    throw error;
  } finally {
    span.end();
  }
}

export interface Delivery {
  readonly system: MessagingSystem;
  readonly event: BrokerEvent;
  /** The queue group the event was delivered to; undefined for a plain subscriber. */
  readonly queue: string | undefined;
  /** How many times this event was delivered to this consumer, this one included, when the broker knows. */
  readonly deliveryCount?: number;
}

/**
 * Runs a handler for one delivery in a CONSUMER span, child of the producer span
 * the event's headers name (not of whatever is active: the delivery's own HTTP or
 * NATS plumbing). The handler's own spans (its queries) are children of it; a
 * handler that throws ends it with status ERROR and the error's message only.
 */
export async function consuming(delivery: Delivery, handle: () => Promise<void>): Promise<void> {
  const api = await openTelemetry();
  if (api === undefined) return handle();
  const { system, event, queue, deliveryCount } = delivery;
  const attributes = messagingAttributes(system, event.topic, event.id, 'process');
  if (queue !== undefined) attributes['messaging.consumer.group.name'] = queue;
  if (deliveryCount !== undefined) attributes[deliveryCountAttribute] = deliveryCount;
  const parent = api.propagation.extract(api.ROOT_CONTEXT, event.headers);
  const span = tracer(api).startSpan(
    `process ${event.topic}`,
    { kind: api.SpanKind.CONSUMER, attributes },
    parent,
  );
  try {
    await api.context.with(api.trace.setSpan(parent, span), handle);
  } catch (error) {
    failed(api, span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Looked up per span, not kept: a tracer provider registered later (or again) gets the spans. */
function tracer(api: OpenTelemetryApi) {
  return api.trace.getTracer('berth/broker');
}

function messagingAttributes(
  system: MessagingSystem,
  topic: string,
  id: string,
  operation: 'send' | 'process',
): Attributes {
  return {
    'messaging.system': system,
    'messaging.destination.name': topic,
    'messaging.message.id': id,
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
  };
}

/** Status ERROR and an exception event with the error's type and message: no stack, nothing else it holds. */
function failed(api: OpenTelemetryApi, span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : typeof error;
  span.recordException({ name, message });
  span.setStatus({ code: api.SpanStatusCode.ERROR, message });
}
