import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { jetstreamManager } from '@nats-io/jetstream';
import type { BrokerEvent } from '../../src/broker/broker.ts';
import { ensureProcessedTable, handleOnce } from '../../src/broker/dedupe.ts';
import { NatsBroker, type NatsBrokerOptions } from '../../src/broker/nats-broker.ts';
import { durableName } from '../../src/broker/nats-jetstream.ts';
import { Code, type ConnectError } from '../../src/errors/berth-error.ts';
import { waitFor } from '../support/wait.ts';
import { type NatsServer, startNatsServer } from './nats-server.ts';

describe('NatsBroker on a real nats-server -js', () => {
  let server: NatsServer;
  const brokers: NatsBroker[] = [];
  let streamCount = 0;

  before(async () => {
    server = await startNatsServer();
  });

  after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await server?.stop();
  });

  /** Brokers of one isolated "system": their own stream and subject prefix. */
  function system(options: Partial<NatsBrokerOptions> = {}) {
    streamCount += 1;
    const settings: NatsBrokerOptions = {
      servers: server.url,
      stream: `test${streamCount}`,
      subjectPrefix: `test${streamCount}`,
      minRedeliveryDelayMs: 20,
      maxRedeliveryDelayMs: 100,
      ...options,
    };
    return {
      stream: settings.stream ?? '',
      async broker(): Promise<NatsBroker> {
        const broker = await NatsBroker.connect(settings);
        brokers.push(broker);
        return broker;
      },
    };
  }

  async function consumerSettled(broker: NatsBroker, stream: string, consumer: string, delivered: number) {
    const jsm = await jetstreamManager(broker.connection);
    return waitFor(
      async () => {
        const info = await jsm.consumers.info(stream, consumer);
        return info.num_ack_pending === 0 && info.num_pending === 0 && info.delivered.stream_seq >= delivered
          ? info
          : undefined;
      },
      { what: `consumer ${consumer} to ack everything` },
    );
  }

  it('delivers each event once per queue group and to every plain subscriber', async () => {
    const sys = system();
    const topic = 'order.placed';
    const [publisher, g1, g2, h, plain] = await Promise.all([1, 2, 3, 4, 5].map(() => sys.broker()));
    const received = new Map<string, string[]>();
    const record = (who: string) => async (event: BrokerEvent) => {
      received.set(who, [...(received.get(who) ?? []), event.id]);
    };
    await g1.subscribe(topic, record('g1'), { queue: 'g' });
    await g2.subscribe(topic, record('g2'), { queue: 'g' });
    await h.subscribe(topic, record('h'), { queue: 'h' });
    await plain.subscribe(topic, record('plain'));

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await publisher.publish(topic, { data: { i } })).id);

    await waitFor(() => (received.get('plain') ?? []).length === ids.length, { what: 'plain subscriber' });
    await consumerSettled(publisher, sys.stream, durableName('g', topic), ids.length);
    const h_ = await consumerSettled(publisher, sys.stream, durableName('h', topic), ids.length);
    assert.equal(h_.num_redelivered, 0);

    const groupG = [...(received.get('g1') ?? []), ...(received.get('g2') ?? [])];
    assert.deepEqual([...groupG].sort(), [...ids].sort(), 'group g got each event exactly once');
    assert.deepEqual(received.get('h'), ids, 'group h got each event exactly once, in order');
    assert.deepEqual(received.get('plain'), ids);
  });

  it('refuses an event larger than the server takes as InvalidArgument, a mistake no retry fixes', async () => {
    const publisher = await system().broker();
    const maxPayload = publisher.connection.info!.max_payload;
    await assert.rejects(
      publisher.publish('report.ready', { data: { blob: 'x'.repeat(maxPayload) } }),
      (error: ConnectError) => {
        assert.equal(error.code, Code.InvalidArgument);
        assert.match(error.rawMessage, new RegExp(`max_payload of ${maxPayload} bytes`));
        return true;
      },
    );
  });

  it('check() answers while connected and fails, saying why, once closed', async () => {
    const broker = await system().broker();
    await broker.check(AbortSignal.timeout(5_000));
    await broker.close();
    await assert.rejects(broker.check(AbortSignal.timeout(5_000)), /NATS connection closed/);
  });

  it('keeps events for a queue group while it is down', async () => {
    const sys = system();
    const topic = 'user.created';
    const publisher = await sys.broker();
    const first = await sys.broker();
    const subscription = await first.subscribe(topic, async () => {}, { queue: 'email' });
    await subscription.unsubscribe();
    await first.close();

    const sent = await publisher.publish(topic, { data: { id: 'u1' }, headers: { 'x-request-id': 'r1' } });

    const got: BrokerEvent[] = [];
    const second = await sys.broker();
    await second.subscribe(topic, async (event) => void got.push(event), { queue: 'email' });
    await waitFor(() => got.length === 1, { what: 'the waiting event' });
    assert.deepEqual(got[0], sent);
  });

  it('redelivers an event whose handler throws', async () => {
    const sys = system();
    const topic = 'payment.captured';
    const publisher = await sys.broker();
    const subscriber = await sys.broker();
    const attempts: string[] = [];
    await subscriber.subscribe(
      topic,
      async (event) => {
        attempts.push(event.id);
        if (attempts.length < 3) throw new Error('database is down');
      },
      { queue: 'ledger' },
    );
    const plainAttempts: string[] = [];
    await subscriber.subscribe(topic, async (event) => {
      plainAttempts.push(event.id);
      if (plainAttempts.length < 2) throw new Error('not yet');
    });
    const event = await publisher.publish(topic, { data: { amount: 10 } });
    await waitFor(() => attempts.length === 3 && plainAttempts.length === 2, { what: 'redeliveries' });
    await consumerSettled(publisher, sys.stream, durableName('ledger', topic), 1);
    assert.deepEqual(attempts, [event.id, event.id, event.id]);
    assert.deepEqual(plainAttempts, [event.id, event.id]);
  });

  it('close() lets an in-flight handler finish and acks its event', async () => {
    const sys = system();
    const topic = 'report.generated';
    const publisher = await sys.broker();
    const subscriber = await NatsBroker.connect({
      servers: server.url,
      stream: sys.stream,
      subjectPrefix: sys.stream,
    });
    brokers.push(subscriber);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    await subscriber.subscribe(
      topic,
      async () => {
        started = true;
        await released;
      },
      { queue: 'reports' },
    );
    await publisher.publish(topic, { data: {} });
    await waitFor(() => started, { what: 'the handler to start' });
    let closed = false;
    const closing = subscriber.close().then(() => {
      closed = true;
    });
    await publisher.connection.flush(); // a server round trip, for close() to make progress
    assert.equal(closed, false, 'close waits for the handler');
    release();
    await closing;
    assert.ok(subscriber.connection.isClosed());
    const info = await consumerSettled(publisher, sys.stream, durableName('reports', topic), 1);
    assert.equal(info.num_redelivered, 0);
  });

  it('stores a re-published id once, and handleOnce drops a redelivered duplicate', async () => {
    const sys = system();
    const topic = 'user.created';
    const publisher = await sys.broker();
    const subscriber = await sys.broker();
    const db = new PGlite();
    try {
      await ensureProcessedTable(db);
      await db.query('CREATE TABLE mails (event_id text NOT NULL)');

      const outcomes: boolean[] = [];
      await subscriber.subscribe(
        topic,
        async (event) => {
          outcomes.push(
            await handleOnce(db, 'email', event, async (tx) => {
              await tx.query('INSERT INTO mails (event_id) VALUES ($1)', [event.id]);
            }),
          );
          // The first time, crash after committing and before the ack: JetStream redelivers.
          if (outcomes.length === 1) throw new Error('crashed before ack');
        },
        { queue: 'email' },
      );

      // The outbox relay retrying a publish whose ack was lost: the same event id twice.
      await publisher.publish(topic, { id: 'evt-1', data: { n: 1 } });
      await publisher.publish(topic, { id: 'evt-1', data: { n: 1 } });
      const jsm = await jetstreamManager(publisher.connection);
      assert.equal((await jsm.streams.info(sys.stream)).state.messages, 1);

      await waitFor(() => outcomes.length === 2, { what: 'the redelivery' });
      await consumerSettled(publisher, sys.stream, durableName('email', topic), 1);
      assert.deepEqual(outcomes, [true, false]);
      const { rows } = await db.query<{ event_id: string }>('SELECT event_id FROM mails');
      assert.deepEqual(rows, [{ event_id: 'evt-1' }]);
    } finally {
      await db.close();
    }
  });
});
