/**
 * Credentials in a NATS URL, as the cluster gives each service its own
 * (`nats://<service>:<password>@nats.<ns>.svc:4222`): split out of the URL for
 * nats.js, which would ignore them, and checked against a real nats-server
 * that requires a user.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NatsBroker } from '../../src/broker/nats-broker.ts';
import { natsServers } from '../../src/broker/nats-servers.ts';
import { type NatsServer, startNatsServer } from './nats-server.ts';

let server: NatsServer;
before(async () => {
  server = await startNatsServer(['--user', 'vessel', '--pass', 'p@ss:word/1']);
});
after(() => server?.stop());

const withCredentials = (credentials: string) => server.url.replace('nats://', `nats://${credentials}@`);

test('the URL’s user and password log in; the servers are handed over without them', async () => {
  const broker = await NatsBroker.connect({
    servers: withCredentials(`vessel:${encodeURIComponent('p@ss:word/1')}`),
    stream: 'creds',
    subjectPrefix: 'creds',
  });
  try {
    let received: (data: unknown) => void = () => {};
    const got = new Promise<unknown>((resolve) => {
      received = resolve;
    });
    await broker.subscribe('creds.ping', async (event) => received(event.data), { queue: 'g' });
    await broker.publish('creds.ping', { data: { ok: true } });
    assert.deepEqual(await got, { ok: true });
  } finally {
    await broker.close();
  }
});

test('no credentials, or wrong ones, are refused by the server, and the error shows no password', async () => {
  await assert.rejects(NatsBroker.connect({ servers: server.url }), /Authorization Violation|authorization/i);
  await assert.rejects(
    NatsBroker.connect({ servers: withCredentials('vessel:wrong-password') }),
    (error: Error) => /authorization/i.test(error.message) && !error.message.includes('wrong-password'),
  );
});

test('natsServers: lists and comma lists, tokens, and mistakes named without the secret', () => {
  assert.deepEqual(natsServers('nats://u:p%40ss@a:4222, nats://u:p%40ss@b:4222'), {
    servers: ['nats://a:4222', 'nats://b:4222'],
    user: 'u',
    pass: 'p@ss',
  });
  assert.deepEqual(natsServers(['nats://s3cret@a:4222']), { servers: ['nats://a:4222'], token: 's3cret' });
  assert.deepEqual(natsServers('a:4222'), { servers: ['nats://a:4222'] });
  assert.throws(() => natsServers(' , '), /no NATS server given/);
  assert.throws(() => natsServers('nats://u:one@a:4222,nats://u:two@b:4222'), /different credentials/);
  assert.throws(
    () => natsServers('nats://u:hunter2@[bad'),
    (error: Error) => /is not a URL/.test(error.message) && !error.message.includes('hunter2'),
  );
});
