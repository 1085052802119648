import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Broker, BrokerEvent } from '../../src/broker/broker.ts';
import { effectOnce, ensureProcessedTable, handleOnce } from '../../src/broker/dedupe.ts';
import { DirectBroker } from '../../src/broker/direct-broker.ts';
import { enqueue, ensureOutboxTable, OutboxRelay } from '../../src/broker/outbox.ts';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { withTransaction } from '../../src/store/sql.ts';
import { waitFor } from '../support/wait.ts';
import { type PgliteServer, startPgliteServer } from './pglite-server.ts';

interface OutboxState {
  attempts: number;
  delivered_at: Date | null;
  last_error: string | null;
}

/**
 * `broker`, with a promise per event id for the first publish the relay makes of it:
 * `'published'`, or the error it failed with.
 */
function recordPublishes(broker: Broker): {
  attempted: Broker;
  enqueued: (id: string) => Promise<unknown>;
} {
  const outcomes = new Map<string, PromiseWithResolvers<unknown>>();
  const outcome = (id: string) => {
    let entry = outcomes.get(id);
    if (!entry) {
      entry = Promise.withResolvers<unknown>();
      outcomes.set(id, entry);
    }
    return entry;
  };
  const attempted: Broker = {
    publish: async (topic, input, signal) => {
      const settle = outcome(input.id!);
      try {
        const event = await broker.publish(topic, input, signal);
        settle.resolve('published');
        return event;
      } catch (error) {
        settle.resolve(error);
        throw error;
      }
    },
    subscribe: (topic, handler, options) => broker.subscribe(topic, handler, options),
    close: () => broker.close(),
  };
  return { attempted, enqueued: (id) => outcome(id).promise };
}

describe('outbox + DirectBroker on PGlite', () => {
  let pglite: PgliteServer;
  let stateDir: string;
  let registry: MemoryRegistry;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    pglite = await startPgliteServer();
    stateDir = await mkdtemp(join(tmpdir(), 'berth-outbox-'));
    registry = new MemoryRegistry();
    await ensureOutboxTable(pglite.pool);
    await ensureProcessedTable(pglite.pool);
    await pglite.pool.query('CREATE TABLE users (id text PRIMARY KEY, email text NOT NULL)');
    await pglite.pool.query('CREATE TABLE welcome_mails (user_id text NOT NULL, event_id text NOT NULL)');
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
    await registry.close();
    await pglite?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function startBroker(): Promise<DirectBroker> {
    const broker = await DirectBroker.start({ registry, stateDir });
    closers.push(() => broker.close());
    return broker;
  }

  async function outboxRow(id: string): Promise<OutboxState | undefined> {
    const { rows } = await pglite.pool.query<OutboxState>(
      'SELECT attempts, delivered_at, last_error FROM berth_outbox WHERE id = $1',
      [id],
    );
    return rows[0];
  }

  it('stores state and event together; a rolled back transaction publishes nothing', async () => {
    await assert.rejects(
      withTransaction(pglite.pool, async (tx) => {
        await tx.query('INSERT INTO users (id, email) VALUES ($1, $2)', ['u0', 'zero@example.com']);
        await enqueue(tx, 'user.created', { id: 'evt-rolled-back', data: { id: 'u0' } });
        throw new Error('validation failed after the insert');
      }),
      /validation failed/,
    );
    assert.equal(await outboxRow('evt-rolled-back'), undefined);
    const { rows } = await pglite.pool.query('SELECT id FROM users WHERE id = $1', ['u0']);
    assert.equal(rows.length, 0);
  });

  it('keeps the event while the remembered group is down, delivers when it is back, drops duplicates', async () => {
    const topic = 'user.created';
    // The email service subscribed once (so its group is remembered), then went down.
    const emailBefore = await startBroker();
    await emailBefore.subscribe(topic, async () => {}, { queue: 'email' });
    await emailBefore.close();

    const publisher = await startBroker();
    const relay = new OutboxRelay({
      db: pglite.pool,
      broker: publisher,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      pollIntervalMs: 100,
    });
    closers.push(() => relay.close());

    const eventId = await withTransaction(pglite.pool, async (tx) => {
      await tx.query('INSERT INTO users (id, email) VALUES ($1, $2)', ['u1', 'ada@example.com']);
      return enqueue(tx, topic, {
        data: { id: 'u1', email: 'ada@example.com' },
        headers: { 'x-request-id': 'r1' },
      });
    });
    relay.wake();

    const pending = await waitFor(
      async () => {
        const row = await outboxRow(eventId);
        return row && row.attempts >= 2 ? row : undefined;
      },
      { what: 'the relay to try and fail twice' },
    );
    assert.equal(pending.delivered_at, null);
    assert.match(pending.last_error ?? '', /queue group "email" has no live member/);

    // The email service comes back: an idempotent consumer.
    const outcomes: boolean[] = [];
    const received: BrokerEvent[] = [];
    const email = await startBroker();
    await email.subscribe(
      topic,
      async (event) => {
        received.push(event);
        const data = event.data as { id: string };
        outcomes.push(
          await handleOnce(pglite.pool, 'email', event, async (tx) => {
            await tx.query('INSERT INTO welcome_mails (user_id, event_id) VALUES ($1, $2)', [
              data.id,
              event.id,
            ]);
          }),
        );
      },
      { queue: 'email' },
    );

    await waitFor(async () => (await outboxRow(eventId))?.delivered_at, {
      what: 'the event to be delivered',
    });
    assert.deepEqual(outcomes, [true]);
    assert.equal(received[0].id, eventId);
    assert.deepEqual(received[0].data, { id: 'u1', email: 'ada@example.com' });
    assert.deepEqual(received[0].headers, { 'x-request-id': 'r1' });

    // A redelivery (say the relay died between publish and marking the row delivered).
    await publisher.publish(topic, { id: eventId, data: received[0].data });
    assert.deepEqual(outcomes, [true, false]);
    const { rows } = await pglite.pool.query('SELECT event_id FROM welcome_mails');
    assert.deepEqual(rows, [{ event_id: eventId }]);
  });

  it('effectOnce: the effect runs outside any transaction, once per event; a failed one is retried', async () => {
    const event = { id: 'evt-effect-1' };
    const effects: string[] = [];
    let failNext = true;
    const effect = async () => {
      // No transaction holds a row lock meanwhile: another session writes freely.
      await pglite.pool.query("INSERT INTO welcome_mails (user_id, event_id) VALUES ('during', 'effect')");
      if (failNext) {
        failNext = false;
        throw new Error('SMTP said 451, try later');
      }
      effects.push(event.id);
    };
    await assert.rejects(effectOnce(pglite.pool, 'mailer', event, effect), /451/);
    assert.deepEqual(effects, [], 'the failed attempt recorded nothing');
    assert.equal(await effectOnce(pglite.pool, 'mailer', event, effect), true, 'the redelivery runs it');
    assert.equal(await effectOnce(pglite.pool, 'mailer', event, effect), false, 'a duplicate is dropped');
    assert.deepEqual(effects, ['evt-effect-1']);
  });

  it('an event no broker can ever take is kept with its error, out of the retry loop; the rest flow', async () => {
    const broker = await DirectBroker.start({ registry, stateDir, maxBodyBytes: 1024 });
    closers.push(() => broker.close());
    // Waits on the relay itself, with no deadline a loaded machine could overrun
    // (the test runner's timeout is the only limit): each publish the relay makes
    // settles one of these, and close() returns once the round that made them has
    // written its outcomes.
    const { enqueued, attempted } = recordPublishes(broker);
    const relay = new OutboxRelay({
      db: pglite.pool,
      broker: attempted,
      minBackoffMs: 20,
      pollIntervalMs: 50,
    });
    closers.push(() => relay.close());
    const [oversized, fine] = await withTransaction(pglite.pool, async (tx) => [
      await enqueue(tx, 'report.ready', { data: { blob: 'x'.repeat(4096) } }),
      await enqueue(tx, 'report.ready', { data: { blob: 'small' } }),
    ]);
    relay.wake();
    const [refusal, published] = await Promise.all([enqueued(oversized), enqueued(fine)]);
    assert.match(String(refusal), /larger than 1024 bytes/);
    assert.equal(published, 'published');
    await relay.close();

    const { rows } = await pglite.pool.query(
      "SELECT id, attempts, last_error, delivered_at, next_attempt_at = 'infinity' AS parked FROM berth_outbox WHERE id = ANY($1::text[])",
      [[oversized, fine]],
    );
    const parked = rows.find((row) => row.id === oversized);
    assert.equal(parked.parked, true, 'out of the retry loop');
    assert.equal(parked.attempts, 1, 'tried once, not retried');
    assert.equal(parked.delivered_at, null);
    assert.match(parked.last_error, /larger than 1024 bytes/);
    assert.ok(rows.find((row) => row.id === fine).delivered_at, 'the small event delivered');
  });

  it('lets relays of several replicas share one table without losing events', async () => {
    const topic = 'vessel.booked';
    const got: string[] = [];
    const subscriber = await startBroker();
    await subscriber.subscribe(topic, async (event) => void got.push(event.id), { queue: 'planner' });
    const replicas = await Promise.all([startBroker(), startBroker()]);
    await Promise.all(
      replicas.map((b) => waitFor(() => b.subscribers(topic).length === 1, { what: 'subscriber known' })),
    );
    const relays = replicas.map(
      (broker) => new OutboxRelay({ db: pglite.pool, broker, batchSize: 3, pollIntervalMs: 50 }),
    );
    closers.push(() => Promise.all(relays.map((r) => r.close())).then(() => {}));

    const ids = await withTransaction(pglite.pool, async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 20; i++) out.push(await enqueue(tx, topic, { data: { i } }));
      return out;
    });
    for (const relay of relays) relay.wake();

    await waitFor(
      async () => {
        const { rows } = await pglite.pool.query(
          'SELECT count(*)::int AS n FROM berth_outbox WHERE topic = $1 AND delivered_at IS NULL',
          [topic],
        );
        return rows[0].n === 0;
      },
      { what: 'every row delivered' },
    );
    assert.deepEqual([...new Set(got)].sort(), [...ids].sort());
  });
});
