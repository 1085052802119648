/**
 * Trace context across events through a real `nats-server -js` (nats-server.ts),
 * with the real OpenTelemetry SDK exporting to memory (tracing-sdk.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { BrokerEvent } from '../../src/broker/broker.ts';
import { deliveryCountAttribute } from '../../src/broker/event-tracing.ts';
import { NatsBroker } from '../../src/broker/nats-broker.ts';
import { waitFor } from '../support/wait.ts';
import { type NatsServer, startNatsServer } from './nats-server.ts';
import { isChildOf, registerTestTracing, type TestTracing } from './tracing-sdk.ts';

describe('NatsBroker events carry their trace', () => {
  let server: NatsServer;
  let tracing: TestTracing;
  const brokers: NatsBroker[] = [];
  let streams = 0;

  before(async () => {
    server = await startNatsServer();
    tracing = registerTestTracing();
  });

  after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await server?.stop();
    await tracing?.stop();
  });

  /** A publisher and a subscriber of one isolated system: their own stream and subject prefix. */
  async function system(): Promise<{ publisher: NatsBroker; subscriber: NatsBroker; prefix: string }> {
    streams += 1;
    const prefix = `traced${streams}`;
    const options = {
      servers: server.url,
      stream: prefix,
      subjectPrefix: prefix,
      minRedeliveryDelayMs: 20,
      maxRedeliveryDelayMs: 100,
    };
    const [publisher, subscriber] = await Promise.all([
      NatsBroker.connect(options),
      NatsBroker.connect(options),
    ]);
    brokers.push(publisher, subscriber);
    return { publisher, subscriber, prefix };
  }

  const spansOf = (kind: SpanKind, eventId: string) =>
    tracing.spans().filter((s) => s.kind === kind && s.attributes['messaging.message.id'] === eventId);

  /** Publishes inside a span named `request`; resolves with the event and that span, ended. */
  async function publishInRequest(
    broker: NatsBroker,
    topic: string,
  ): Promise<{ event: BrokerEvent; request: ReadableSpan }> {
    let started: Span | undefined;
    const event = await trace.getTracer('test').startActiveSpan('request', async (span) => {
      started = span;
      try {
        return await broker.publish(topic, { data: { id: 'u1' } });
      } finally {
        span.end();
      }
    });
    const id = started!.spanContext().spanId;
    return { event, request: tracing.spans().find((s) => s.spanContext().spanId === id)! };
  }

  it('the consumer span is a child of the producer span; the NATS message headers carry it too', async () => {
    const { publisher, subscriber, prefix } = await system();
    const topic = 'user.created';
    await subscriber.subscribe(topic, async () => {}, { queue: 'email' });
    const raw = publisher.connection.subscribe(`${prefix}.${topic}`, { max: 1 });

    const { event, request } = await publishInRequest(publisher, topic);

    const [producer] = spansOf(SpanKind.PRODUCER, event.id);
    assert.ok(producer && isChildOf(producer, request), 'the producer span is a child of the request');
    assert.equal(producer.attributes['messaging.system'], 'nats');
    assert.equal(producer.attributes['messaging.destination.name'], topic);
    const consumer = await waitFor(() => spansOf(SpanKind.CONSUMER, event.id)[0], {
      what: 'the consumer span',
    });
    assert.ok(isChildOf(consumer, producer), 'the consumer span is a child of the producer span');
    assert.equal(consumer.attributes['messaging.system'], 'nats');
    assert.equal(consumer.attributes['messaging.consumer.group.name'], 'email');
    assert.equal(consumer.attributes[deliveryCountAttribute], 1);

    for await (const message of raw) {
      assert.equal(message.headers?.get('traceparent'), event.headers.traceparent);
    }
    const { traceId, spanId } = producer.spanContext();
    assert.equal(event.headers.traceparent, `00-${traceId}-${spanId}-01`);
  });

  it('a redelivery after a handler error is a second consumer span with the same parent', async () => {
    const { publisher, subscriber } = await system();
    const topic = 'payment.captured';
    let calls = 0;
    await subscriber.subscribe(
      topic,
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('ledger is down');
      },
      { queue: 'ledger' },
    );

    const { event } = await publishInRequest(publisher, topic);

    const consumers = await waitFor(
      () => {
        const spans = spansOf(SpanKind.CONSUMER, event.id);
        return spans.length === 2 ? spans : undefined;
      },
      { what: 'two consumer spans' },
    );
    const [producer] = spansOf(SpanKind.PRODUCER, event.id);
    const [first, second] = consumers;
    assert.ok(
      isChildOf(first, producer) && isChildOf(second, producer),
      'both are children of the one publish',
    );
    assert.equal(first.status.code, SpanStatusCode.ERROR);
    assert.equal(first.status.message, 'ledger is down');
    assert.equal(second.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(
      consumers.map((s) => s.attributes[deliveryCountAttribute]),
      [1, 2],
    );
  });
});
