import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrokerEvent } from '../../src/broker/broker.ts';
import { DirectBroker } from '../../src/broker/direct-broker.ts';
import { deliverPath } from '../../src/broker/direct-protocol.ts';
import { FileDurableGroups } from '../../src/broker/durable-groups.ts';
import { Code, ConnectError } from '../../src/errors/berth-error.ts';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { waitFor } from '../support/wait.ts';

/** A raw POST to a broker's delivery endpoint, on a connection of its own. */
function post(address: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<number> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: Number(port), path: deliverPath, method: 'POST', agent: false, headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('DirectBroker', () => {
  let stateDir: string;
  let registry: MemoryRegistry;
  const brokers: DirectBroker[] = [];

  async function startBroker(): Promise<DirectBroker> {
    const broker = await DirectBroker.start({ registry, stateDir, maxBodyBytes: 64 * 1024 });
    brokers.push(broker);
    return broker;
  }

  async function waitForSubscribers(publisher: DirectBroker, topic: string, count: number): Promise<void> {
    await waitFor(() => publisher.subscribers(topic).length === count, {
      what: `${count} subscribers of ${topic}`,
    });
  }

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'berth-direct-broker-'));
    registry = new MemoryRegistry();
  });

  after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await registry.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('delivers each event once per queue group and to every plain subscriber', async () => {
    const topic = 'order.placed';
    const publisher = await startBroker();
    const received = new Map<string, string[]>();
    const record = (who: string) => async (event: BrokerEvent) => {
      received.set(who, [...(received.get(who) ?? []), event.id]);
    };
    const [g1, g2, h, all1, all2] = await Promise.all([1, 2, 3, 4, 5].map(() => startBroker()));
    await g1.subscribe(topic, record('g1'), { queue: 'g' });
    await g2.subscribe(topic, record('g2'), { queue: 'g' });
    await h.subscribe(topic, record('h'), { queue: 'h' });
    await all1.subscribe(topic, record('all1'));
    await all2.subscribe(topic, record('all2'));
    await waitForSubscribers(publisher, topic, 5);

    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const event = await publisher.publish(topic, { data: { n: i }, headers: { 'x-trace': `t${i}` } });
      ids.push(event.id);
    }

    const groupG = [...(received.get('g1') ?? []), ...(received.get('g2') ?? [])];
    assert.deepEqual([...groupG].sort(), [...ids].sort(), 'group g got each event exactly once');
    assert.ok(
      (received.get('g1') ?? []).length > 0 && (received.get('g2') ?? []).length > 0,
      'both g members used',
    );
    assert.deepEqual(received.get('h'), ids, 'group h got each event exactly once');
    assert.deepEqual(received.get('all1'), ids);
    assert.deepEqual(received.get('all2'), ids);
  });

  it('hands the event to another member when one fails, and carries the envelope', async () => {
    const topic = 'invoice.issued';
    const publisher = await startBroker();
    const failing = await startBroker();
    const healthy = await startBroker();
    let seen: BrokerEvent | undefined;
    let failures = 0;
    await failing.subscribe(
      topic,
      async () => {
        failures += 1;
        throw new Error('boom');
      },
      { queue: 'billing' },
    );
    await healthy.subscribe(
      topic,
      async (event) => {
        seen = event;
      },
      { queue: 'billing' },
    );
    await waitForSubscribers(publisher, topic, 2);

    for (let i = 0; i < 2; i++) {
      await publisher.publish(topic, {
        id: `inv-${i}`,
        data: { total: 42 },
        headers: { 'x-tenant': 'acme' },
      });
    }
    assert.equal(failures, 1, 'round-robin tried the failing member once, then the healthy one took it');
    assert.equal(seen?.id, 'inv-1');
    assert.equal(seen?.topic, topic);
    assert.deepEqual(seen?.data, { total: 42 });
    assert.deepEqual(seen?.headers, { 'x-tenant': 'acme' });
    assert.ok(!Number.isNaN(Date.parse(seen?.publishedAt ?? '')));
  });

  it('fails publish while a handler throws, and the retried event is not lost', async () => {
    const topic = 'payment.captured';
    const publisher = await startBroker();
    const subscriber = await startBroker();
    const attempts: string[] = [];
    const handled: string[] = [];
    await subscriber.subscribe(
      topic,
      async (event) => {
        attempts.push(event.id);
        if (attempts.length < 3) throw new Error('database is down');
        handled.push(event.id);
      },
      { queue: 'ledger' },
    );
    await waitForSubscribers(publisher, topic, 1);

    for (let i = 0; i < 2; i++) {
      await assert.rejects(publisher.publish(topic, { id: 'pay-1', data: {} }), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, Code.Unavailable);
        assert.match(error.message, /pay-1.*ledger/);
        return true;
      });
    }
    // What the outbox relay does: publish the same event again until it is acked.
    const event = await publisher.publish(topic, { id: 'pay-1', data: {} });
    assert.equal(event.id, 'pay-1');
    assert.deepEqual(attempts, ['pay-1', 'pay-1', 'pay-1']);
    assert.deepEqual(handled, ['pay-1']);
  });

  it('keeps a remembered queue group: publish fails while it has no live member', async () => {
    const topic = 'user.created';
    const publisher = await startBroker();
    const first = await startBroker();
    const subscription = await first.subscribe(topic, async () => {}, { queue: 'email' });
    assert.deepEqual(await new FileDurableGroups(stateDir).groups(topic), ['email']);
    await waitForSubscribers(publisher, topic, 1);
    await subscription.unsubscribe();
    await waitForSubscribers(publisher, topic, 0);

    await assert.rejects(
      publisher.publish(topic, { id: 'u-1', data: {} }),
      /queue group "email" has no live member/,
    );

    const got: string[] = [];
    const second = await startBroker();
    await second.subscribe(topic, async (event) => void got.push(event.id), { queue: 'email' });
    await waitForSubscribers(publisher, topic, 1);
    await publisher.publish(topic, { id: 'u-1', data: {} });
    assert.deepEqual(got, ['u-1']);
  });

  it('answers 400 to malformed deliveries and 413 to oversized ones, and keeps serving', async () => {
    const topic = 'audit.logged';
    const publisher = await startBroker();
    const subscriber = await startBroker();
    const got: string[] = [];
    await subscriber.subscribe(topic, async (event) => void got.push(event.id));
    await waitForSubscribers(publisher, topic, 1);
    const json = { 'content-type': 'application/json' };

    assert.equal(await post(subscriber.address, '{not json', json), 400);
    assert.equal(await post(subscriber.address, JSON.stringify({ id: 'x' }), json), 400);
    assert.equal(await post(subscriber.address, JSON.stringify([1, 2]), json), 400);
    const wrongTopic = { id: 'x', topic: '../etc', data: 1, publishedAt: 'now', headers: {} };
    assert.equal(await post(subscriber.address, JSON.stringify(wrongTopic), json), 400);
    const badQueue = { id: 'x', topic, data: 1, publishedAt: 'now', headers: {} };
    assert.equal(
      await post(subscriber.address, JSON.stringify(badQueue), { ...json, 'berth-queue': 'a b' }),
      400,
    );
    assert.equal(await post(subscriber.address, Buffer.alloc(128 * 1024, 'a'), json), 413);
    assert.equal(got.length, 0);

    await publisher.publish(topic, { id: 'ok-1', data: { fine: true } });
    assert.deepEqual(got, ['ok-1']);
    await assert.rejects(publisher.publish(topic, { data: 'x'.repeat(128 * 1024) }), /larger than/);
    await assert.rejects(publisher.publish('bad topic', { data: 1 }), /invalid topic/);
  });

  it('refuses a delivery without the system token (401, no handler runs); a real publish arrives', async () => {
    const topic = 'account.opened';
    const token = 'run-token-a1b2c3';
    const start = (options: { token: string }) =>
      DirectBroker.start({ registry, stateDir, system: 'trusted', ...options }).then((broker) => {
        brokers.push(broker);
        return broker;
      });
    const publisher = await start({ token });
    const subscriber = await start({ token });
    const got: string[] = [];
    await subscriber.subscribe(topic, async (event) => void got.push(event.id), { queue: 'mailer' });
    await waitForSubscribers(publisher, topic, 1);

    const forged = JSON.stringify({ id: 'forged', topic, data: {}, publishedAt: 'now', headers: {} });
    const headers = { 'content-type': 'application/json', 'berth-queue': 'mailer' };
    assert.equal(await post(subscriber.address, forged, headers), 401, 'no token');
    assert.equal(
      await post(subscriber.address, forged, { ...headers, authorization: 'Bearer guessed' }),
      401,
      'a wrong token',
    );
    assert.equal(
      await post(subscriber.address, forged, { ...headers, authorization: token }),
      401,
      'the token without its scheme',
    );
    // A broker of another run (another token) is refused the same way, and says why.
    const stranger = await start({ token: 'another-run' });
    await waitForSubscribers(stranger, topic, 1);
    await assert.rejects(stranger.publish(topic, { id: 'stranger', data: {} }), /unauthorized/);
    assert.deepEqual(got, [], 'no refused delivery reached the handler');

    await publisher.publish(topic, { id: 'real', data: {} });
    assert.deepEqual(got, ['real']);
    // The same raw request with the token is a delivery: the refusals above were the token's doing.
    assert.equal(
      await post(subscriber.address, forged.replace('forged', 'raw'), {
        ...headers,
        authorization: `Bearer ${token}`,
      }),
      200,
    );
    assert.deepEqual(got, ['real', 'raw']);
  });

  it('close() lets an in-flight handler finish and ack before it returns', async () => {
    const topic = 'report.generated';
    const publisher = await startBroker();
    const subscriber = await DirectBroker.start({ registry, stateDir });
    brokers.push(subscriber);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    let finished = false;
    await subscriber.subscribe(
      topic,
      async () => {
        started = true;
        await released;
        finished = true;
      },
      { queue: 'reports' },
    );
    await waitForSubscribers(publisher, topic, 1);

    const published = publisher.publish(topic, { id: 'rep-1', data: {} });
    await waitFor(() => started, { what: 'the handler to start' });
    let closed = false;
    const closing = subscriber.close().then(() => {
      closed = true;
    });
    await waitFor(() => publisher.subscribers(topic).length === 0, { what: 'the subscriber to deregister' });
    assert.equal(closed, false, 'close waits for the handler');
    release();
    assert.equal((await published).id, 'rep-1', 'the ack reached the publisher');
    await closing;
    assert.ok(finished);
    await assert.rejects(publisher.publish(topic, { data: {} }), /no live member/);
  });

  it('delivers to subscriptions of the publishing broker itself', async () => {
    const topic = 'self.check';
    const broker = await startBroker();
    const got: unknown[] = [];
    await broker.subscribe(topic, async (event) => void got.push(event.data), { queue: 'me' });
    await waitForSubscribers(broker, topic, 1);
    await broker.publish(topic, { data: { a: 1 } });
    assert.deepEqual(got, [{ a: 1 }]);
  });
});
