/**
 * Trace context across events with the direct broker and the outbox, on PGlite
 * served over the wire: real brokers on 127.0.0.1, berth's own pool, and the real
 * OpenTelemetry SDK exporting to memory (tracing-sdk.ts). The first suite runs
 * before any SDK is registered.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type pg from 'pg';
import type { BrokerEvent, EventHandler } from '../../src/broker/broker.ts';
import { ensureProcessedTable, handleOnce } from '../../src/broker/dedupe.ts';
import { DirectBroker } from '../../src/broker/direct-broker.ts';
import { enqueue, ensureOutboxTable, OutboxRelay } from '../../src/broker/outbox.ts';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { createPool } from '../../src/store/pool.ts';
import { withTransaction } from '../../src/store/sql.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { type PgliteServer, startPgliteServer } from './pglite-server.ts';
import { isChildOf, registerTestTracing, type TestTracing } from './tracing-sdk.ts';

const cleanup = fileCleanup();
let pglite: PgliteServer;
let pool: pg.Pool;
let stateDir: string;
let registry: MemoryRegistry;
let topics = 0;

before(async () => {
  pglite = await startPgliteServer();
  cleanup(() => pglite.stop());
  pool = createPool(pglite.url, { max: 2 });
  cleanup(() => pool.end());
  stateDir = await mkdtemp(join(tmpdir(), 'berth-event-tracing-'));
  cleanup(() => rm(stateDir, { recursive: true, force: true }));
  registry = new MemoryRegistry();
  cleanup(() => registry.close());
  await ensureOutboxTable(pool);
  await ensureProcessedTable(pool);
});

async function startBroker(): Promise<DirectBroker> {
  const broker = await DirectBroker.start({ registry, stateDir });
  cleanup(() => broker.close());
  return broker;
}

/** A topic of its own per test, so remembered groups of one do not hold up another. */
function freshTopic(): string {
  topics += 1;
  return `user.created${topics}`;
}

/** A subscriber broker with `handler` in group `email`, once `publisher` sees it. */
async function subscriber(
  publisher: DirectBroker,
  topic: string,
  handler: EventHandler,
): Promise<DirectBroker> {
  const broker = await startBroker();
  await broker.subscribe(topic, handler, { queue: 'email' });
  await waitFor(() => publisher.subscribers(topic).length === 1, { what: `the subscriber of ${topic}` });
  return broker;
}

/** A relay for this test only: relays share the outbox table, and one left running would publish the next test's rows. */
function startRelay(t: TestContext, publisher: DirectBroker): OutboxRelay {
  const relay = new OutboxRelay({ db: pool, broker: publisher, minBackoffMs: 20, maxBackoffMs: 100 });
  t.after(() => relay.close());
  return relay;
}

async function storedHeaders(id: string): Promise<Record<string, string>> {
  const { rows } = await pool.query('SELECT headers FROM berth_outbox WHERE id = $1', [id]);
  return rows[0].headers;
}

async function delivered(id: string): Promise<boolean> {
  const { rows } = await pool.query('SELECT delivered_at FROM berth_outbox WHERE id = $1', [id]);
  return rows[0]?.delivered_at != null;
}

describe('events without an SDK registered', () => {
  it('publish, enqueue and delivery work, and the headers gain nothing', async (t) => {
    const topic = freshTopic();
    const publisher = await startBroker();
    const received: BrokerEvent[] = [];
    await subscriber(publisher, topic, async (event) => void received.push(event));
    const relay = startRelay(t, publisher);

    // An active span of the API's no-op tracer, as code instrumented for tracing makes without an SDK.
    const id = await trace.getTracer('test').startActiveSpan('request', async (span) => {
      await publisher.publish(topic, { data: 1, headers: { 'x-request-id': 'r1' } });
      const enqueued = await withTransaction(pool, (tx) =>
        enqueue(tx, topic, { data: 2, headers: { 'x-request-id': 'r2' } }),
      );
      span.end();
      return enqueued;
    });
    relay.wake();
    await waitFor(() => delivered(id), { what: 'the outbox event to be delivered' });

    assert.deepEqual(await storedHeaders(id), { 'x-request-id': 'r2' });
    assert.deepEqual(
      received.map((event) => event.headers),
      [{ 'x-request-id': 'r1' }, { 'x-request-id': 'r2' }],
    );
  });
});

describe('events with the OpenTelemetry SDK', () => {
  let tracing: TestTracing;
  const tracer = () => trace.getTracer('test');

  before(() => {
    tracing = registerTestTracing();
  });
  after(() => tracing.stop());

  const spansOf = (kind: SpanKind, eventId: string) =>
    tracing.spans().filter((s) => s.kind === kind && s.attributes['messaging.message.id'] === eventId);

  /** Runs `fn` in a span named `request` and returns what it returns, and the span once ended. */
  async function inRequest<T>(fn: () => Promise<T>): Promise<{ result: T; request: ReadableSpan }> {
    let started: Span | undefined;
    const result = await tracer().startActiveSpan('request', async (span) => {
      started = span;
      try {
        return await fn();
      } finally {
        span.end();
      }
    });
    const id = started!.spanContext().spanId;
    const request = tracing.spans().find((s) => s.spanContext().spanId === id)!;
    return { result, request };
  }

  it('publish inside a span: the consumer span is a child of the producer span, in the same trace', async () => {
    const topic = freshTopic();
    const publisher = await startBroker();
    const received: BrokerEvent[] = [];
    await subscriber(publisher, topic, async (event) => {
      received.push(event);
      // The handler's own queries belong to its span.
      await handleOnce(pool, 'email', event, async () => {});
    });

    const { result: event, request } = await inRequest(() =>
      publisher.publish(topic, { data: { id: 'u1' } }),
    );

    const [producer] = spansOf(SpanKind.PRODUCER, event.id);
    assert.ok(producer, 'a producer span');
    assert.equal(producer.name, `send ${topic}`);
    assert.ok(isChildOf(producer, request), 'the producer span is a child of the request');
    assert.deepEqual(producer.attributes, {
      'messaging.system': 'berth',
      'messaging.destination.name': topic,
      'messaging.message.id': event.id,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
    });

    const consumer = await waitFor(() => spansOf(SpanKind.CONSUMER, event.id)[0], {
      what: 'the consumer span',
    });
    assert.equal(consumer.name, `process ${topic}`);
    assert.ok(isChildOf(consumer, producer), 'the consumer span is a child of the producer span');
    assert.equal(consumer.attributes['messaging.operation.type'], 'process');
    assert.equal(consumer.attributes['messaging.consumer.group.name'], 'email');
    assert.equal(consumer.status.code, SpanStatusCode.UNSET);
    const { traceId, spanId } = producer.spanContext();
    assert.match(received[0].headers.traceparent ?? '', new RegExp(`^00-${traceId}-${spanId}-01$`));

    const queries = tracing.spans().filter((s) => s.kind === SpanKind.CLIENT && isChildOf(s, consumer));
    assert.deepEqual(
      queries.map((s) => s.attributes['db.operation.name']),
      ['BEGIN', 'INSERT', 'COMMIT'],
    );
  });

  it('an outbox event waiting for a subscriber that was down is delivered in the trace of its request', async (t) => {
    const topic = freshTopic();
    const publisher = await startBroker();
    // The email group subscribed once (so publishers wait for it), then went down.
    const emailBefore = await subscriber(publisher, topic, async () => {});
    await emailBefore.close();
    const relay = startRelay(t, publisher);

    const { result: id, request } = await inRequest(() =>
      withTransaction(pool, (tx) =>
        enqueue(tx, topic, { data: { id: 'u2' }, headers: { 'x-request-id': 'r3' } }),
      ),
    );
    relay.wake();

    const { traceId, spanId } = request.spanContext();
    const stored = await storedHeaders(id);
    assert.equal(stored['x-request-id'], 'r3');
    assert.equal(stored.traceparent, `00-${traceId}-${spanId}-01`);
    const insert = tracing
      .spans()
      .find((s) => s.attributes['db.operation.name'] === 'INSERT' && isChildOf(s, request));
    assert.match(String(insert?.attributes['db.query.text']), /INSERT INTO berth_outbox/);

    const failedAttempts = () =>
      spansOf(SpanKind.PRODUCER, id).filter((s) => s.status.code === SpanStatusCode.ERROR);
    await waitFor(() => failedAttempts().length >= 2, { what: 'two failed publish attempts' });
    const received: BrokerEvent[] = [];
    await subscriber(publisher, topic, async (event) => void received.push(event));
    await waitFor(() => delivered(id), { what: 'the event to be delivered' });

    const producers = spansOf(SpanKind.PRODUCER, id);
    assert.ok(
      producers.every((s) => isChildOf(s, request)),
      'every publish attempt is a child of the request',
    );
    assert.match(failedAttempts()[0].status.message ?? '', /queue group "email" has no live member/);
    const consumer = await waitFor(() => spansOf(SpanKind.CONSUMER, id)[0], { what: 'the consumer span' });
    assert.equal(consumer.spanContext().traceId, traceId);
    const parent = producers.find((s) => isChildOf(consumer, s));
    assert.equal(parent?.status.code, SpanStatusCode.UNSET, 'its parent is the attempt that succeeded');
    assert.equal(received[0].headers['x-request-id'], 'r3');
  });

  it('a redelivery after a handler error is a second consumer span in the same trace', async (t) => {
    const topic = freshTopic();
    const publisher = await startBroker();
    let calls = 0;
    await subscriber(publisher, topic, async () => {
      calls += 1;
      if (calls === 1) throw new Error('SMTP said 451, try later');
    });
    const relay = startRelay(t, publisher);

    const { result: id, request } = await inRequest(() =>
      withTransaction(pool, (tx) => enqueue(tx, topic, { data: { id: 'u3' } })),
    );
    relay.wake();
    await waitFor(() => delivered(id), { what: 'the event to be delivered' });

    const consumers = await waitFor(
      () => (spansOf(SpanKind.CONSUMER, id).length === 2 ? spansOf(SpanKind.CONSUMER, id) : undefined),
      {
        what: 'two consumer spans',
      },
    );
    const [first, second] = consumers;
    assert.equal(first.status.code, SpanStatusCode.ERROR);
    assert.equal(first.status.message, 'SMTP said 451, try later');
    assert.deepEqual(
      first.events.map((e) => e.attributes),
      [{ 'exception.type': 'Error', 'exception.message': 'SMTP said 451, try later' }],
    );
    assert.equal(second.status.code, SpanStatusCode.UNSET);
    // The direct broker redelivers by publishing again: each delivery is the child of its
    // own publish attempt, and both attempts are children of the request.
    const producers = spansOf(SpanKind.PRODUCER, id);
    for (const consumer of consumers) {
      const parent = producers.find((s) => isChildOf(consumer, s));
      assert.ok(parent && isChildOf(parent, request), 'consumer → its publish attempt → the request');
    }
  });
});
