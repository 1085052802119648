/**
 * The embedded Postgres as `berth run` starts it (src/runner/pglite-server.ts in a
 * process of its own): under the concurrency services put on it (many `pg`
 * connections with parameterized queries and transactions), with the run's password,
 * owner-only files, and clients that send what no Postgres client would.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { readyStatus } from '../../src/runner/pg-protocol.ts';
import { type EmbeddedPostgres, reachableByOthers, startEmbeddedPostgres } from './embedded-postgres.ts';

const PASSWORD = 'right-password-for-the-test';
let server: EmbeddedPostgres;
let dir: string;

const pgliteDir = () => join(dir, 'pglite');
const start = async () => {
  server = await startEmbeddedPostgres({
    dataDir: pgliteDir(),
    password: PASSWORD,
    maxConnections: 12,
    loginTimeoutMs: 1_000,
  });
};
/** A client that fails rather than hangs if the server stops answering. */
const client = (url = server.url) =>
  new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, query_timeout: 10_000 });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-pglite-test-'));
  await start();
});

after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

test('readyStatus reads the transaction status of a closing ReadyForQuery only', () => {
  const ready = (status: string) => Buffer.from([0x5a, 0, 0, 0, 5, status.charCodeAt(0)]);
  const complete = Buffer.from([0x32, 0, 0, 0, 4]); // BindComplete
  assert.equal(readyStatus(Buffer.concat([complete, ready('T')])), 'T');
  assert.equal(readyStatus(ready('I')), 'I');
  assert.equal(readyStatus(complete), undefined);
  assert.equal(readyStatus(Buffer.concat([ready('I'), complete])), undefined);
  assert.equal(
    readyStatus(Buffer.from([0x5a, 0, 0, 0, 0])),
    undefined,
    'an impossible length is no boundary',
  );
});

test('the password is checked (SCRAM-SHA-256): a wrong or missing one is refused with 28P01', async () => {
  const wrong = client(server.url.replace(PASSWORD, 'wrong'));
  await assert.rejects(wrong.connect(), (error: Error & { code?: string }) => {
    assert.equal(error.code, '28P01');
    assert.equal(error.message, 'password authentication failed for user "postgres"');
    return true;
  });
  const other = client(server.url.replace(`postgres:${PASSWORD}@`, `alice:${PASSWORD}x@`));
  await assert.rejects(other.connect(), /password authentication failed for user "alice"/);
  const none = client(server.url.replace(`:${PASSWORD}@`, '@'));
  await assert.rejects(none.connect(), /password/);
  const right = client();
  await right.connect();
  try {
    assert.deepEqual((await right.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  } finally {
    await right.end();
  }
});

test('the data folder is 0700 and every file in it 0600, also after initdb or a copied template', () => {
  assert.ok(readdirSync(pgliteDir()).includes('PG_VERSION'), 'the folder walked is the database');
  assert.deepEqual(reachableByOthers(pgliteDir()), []);
});

test('a data folder others can read (written by an older berth) is made private on its next start', async () => {
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  const loosen = (path: string) => {
    const directory = lstatSync(path).isDirectory();
    chmodSync(path, directory ? 0o777 : 0o666);
    if (directory) for (const name of readdirSync(path)) loosen(join(path, name));
  };
  loosen(pgliteDir());
  assert.notDeepEqual(reachableByOthers(pgliteDir()), []);
  await start();
  assert.deepEqual(reachableByOthers(pgliteDir()), []);
});

test('concurrent connections with parameterized queries and transactions do not interleave', async () => {
  const pool = new pg.Pool({ connectionString: server.url, max: 8 });
  try {
    await pool.query('CREATE TABLE IF NOT EXISTS mux (worker int NOT NULL, n int NOT NULL)');
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let n = 0; n < 25; n += 1) {
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            await client.query('INSERT INTO mux (worker, n) VALUES ($1, $2)', [worker, n]);
            const { rows } = await client.query<{ c: string }>(
              'SELECT count(*) AS c FROM mux WHERE worker = $1 AND n <= $2',
              [worker, n],
            );
            assert.equal(Number(rows[0]!.c), n + 1);
            await client.query('COMMIT');
          } finally {
            client.release();
          }
        }
      }),
    );
    const { rows } = await pool.query<{ c: string }>('SELECT count(*) AS c FROM mux');
    assert.equal(Number(rows[0]!.c), 200);
  } finally {
    await pool.end();
  }
});

test('a connection that dies inside a transaction has it rolled back; the others carry on', async () => {
  const dying = client();
  dying.on('error', () => {});
  const other = client();
  await Promise.all([dying.connect(), other.connect()]);
  await dying.query('CREATE TABLE IF NOT EXISTS gone (x int)');
  await dying.query('BEGIN');
  await dying.query('INSERT INTO gone VALUES ($1)', [1]);
  try {
    // Waits for the session: the dying client holds it until its transaction ends.
    const waiting = other.query<{ c: string }>('SELECT count(*) AS c FROM gone');
    (dying as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    assert.equal(Number((await waiting).rows[0]!.c), 0);
  } finally {
    await other.end();
  }
});

test('connections past the limit are refused with a Postgres error', async () => {
  const clients = Array.from({ length: 13 }, () => client());
  const results = await Promise.allSettled(clients.map((client) => client.connect()));
  try {
    const refused = results.filter((result) => result.status === 'rejected');
    assert.equal(refused.length, 1);
    assert.match(String((refused[0] as PromiseRejectedResult).reason), /too many connections \(at most 12\)/);
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
  }
});

/** A startup packet (protocol 3.0) for `user`. */
function startupPacket(user = 'postgres'): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0postgres\0\0`);
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + body.length, 0);
  header.writeInt32BE(196608, 4);
  return Buffer.concat([header, body]);
}

/** A typed message header claiming `length`. */
const typed = (type: string, length: number) => {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(length, 1);
  return header;
};

/** Sends `bytes` on a fresh connection; resolves with all the server sent once it closed it. */
async function sendRaw(bytes: Buffer): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port: server.port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(bytes);
  const timer = setTimeout(() => socket.destroy(new Error('no close')), 10_000);
  await once(socket, 'close');
  clearTimeout(timer);
  assert.ok(socket.errored === null, 'the server closed the connection (it did not hang)');
  return Buffer.concat(chunks).toString('latin1');
}

const hostile: ReadonlyArray<[string, Buffer, RegExp]> = [
  ['a zero length', Buffer.from([0, 0, 0, 0]), /invalid length of startup packet: 0\0/],
  ['a length of -1', Buffer.from([0xff, 0xff, 0xff, 0xff]), /invalid length of startup packet: -1\0/],
  ['a length below 8', Buffer.from([0, 0, 0, 3]), /invalid length of startup packet: 3\0/],
  ['an absurd length', Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]), /startup packet: 2147483647\0/],
  ['an unknown protocol', Buffer.from([0, 0, 0, 8, 0, 9, 0, 0]), /unsupported protocol 9\.0\0/],
  [
    'a typed message of length -1',
    Buffer.concat([startupPacket(), typed('p', -1)]),
    /invalid message length -1 \(at least 4, at most 65535 bytes\)\0/,
  ],
  [
    'a typed message of length 0',
    Buffer.concat([startupPacket(), typed('p', 0)]),
    /invalid message length 0 /,
  ],
  [
    // PostgreSQL's own bound of an authentication message: no one can make the server buffer 64 MiB per slot unauthenticated.
    'a login message over 64 KiB',
    Buffer.concat([startupPacket(), typed('p', 100_000)]),
    /invalid message length 100000 \(at least 4, at most 65535 bytes\)\0/,
  ],
  [
    'a typed message of 2 GiB',
    Buffer.concat([startupPacket(), typed('p', 0x7fffffff)]),
    /invalid message length 2147483647 /,
  ],
  [
    'a query before the password',
    Buffer.concat([startupPacket(), typed('Q', 13), Buffer.from('SELECT 1;\0')]),
    /expected a SASL response, got message type "Q"\0/,
  ],
];

test('a client that connects and never logs in is cut off (57014), freeing its slot', async () => {
  // A startup packet, then silence: the login would wait for a SASL response forever.
  const answer = await sendRaw(startupPacket());
  assert.match(answer, /C57014\0/);
  assert.match(answer, /canceling authentication due to timeout\0/);
  const silent = await sendRaw(Buffer.alloc(0));
  assert.match(silent, /canceling authentication due to timeout\0/);
});

test('impossible lengths and out-of-order messages get 08P01 and a closed socket; others carry on', async () => {
  const bystander = client();
  await bystander.connect();
  try {
    for (const [what, bytes, message] of hostile) {
      const answer = await sendRaw(bytes);
      assert.match(answer, /C08P01\0/, what);
      assert.match(answer, message, what);
    }
    assert.deepEqual((await bystander.query('SELECT 2 AS two')).rows, [{ two: 2 }]);
    const fresh = client();
    await fresh.connect();
    assert.deepEqual((await fresh.query('SELECT 3 AS three')).rows, [{ three: 3 }]);
    await fresh.end();
  } finally {
    await bystander.end();
  }
});

test('a logged-in client that sends a message of length -1 is disconnected; the session stays usable', async () => {
  const broken = client();
  await broken.connect();
  const errors: Error[] = [];
  broken.on('error', (error) => errors.push(error));
  const ended = new Promise((resolve) => broken.once('end', resolve));
  (broken as unknown as { connection: { stream: { write(bytes: Buffer): void } } }).connection.stream.write(
    typed('Q', -1),
  );
  await ended;
  assert.match(String(errors[0]), /invalid message length -1/);
  const next = client();
  await next.connect();
  try {
    assert.deepEqual((await next.query('SELECT $1::int AS n', [4])).rows, [{ n: 4 }]);
  } finally {
    await next.end();
  }
});

test('after hostile packets the server still stops on SIGTERM', async () => {
  for (const [, bytes] of hostile) await sendRaw(bytes);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});
