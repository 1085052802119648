/**
 * What a service's callers see when its database fails: a database that went
 * away is `unavailable` (503) naming it, and /readyz says so, until it is back;
 * a NUL character in a text value is the caller's `invalid_argument` (400), not
 * an error-level log line with a stack. Against PGlite served over the wire, as
 * `berth run` serves it, with the pool `createPool` makes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { capturingLogger } from '../../test/support/log-capture.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { silentLogger } from '../log/logger.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { PgWireServer } from '../runner/pg-wire-server.ts';
import { Service } from '../service/service.ts';
import { databaseError, nulDetail, serverOf } from './database-errors.ts';
import { checkDatabase, createPool, withTransaction } from './pool.ts';

const password = 'pw-never-shown';

let db: PGlite;
before(async () => {
  db = new PGlite();
  await db.waitReady;
});
after(() => db.close());

function wireServer(port: number): PgWireServer {
  return new PgWireServer({ db, host: '127.0.0.1', port, maxConnections: 16, logger: silentLogger() });
}

interface Answer {
  readonly status: number;
  readonly body: { code?: string; message?: string; greeting?: string };
}

async function hello(address: string, name: string): Promise<Answer> {
  const response = await fetch(`http://${address}/greeter.v1.Say/Hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  return { status: response.status, body: await response.json() };
}

async function readyz(address: string): Promise<{ status: number; checks: Record<string, string> }> {
  const response = await fetch(`http://${address}/readyz`);
  return {
    status: response.status,
    checks: ((await response.json()) as { checks: Record<string, string> }).checks,
  };
}

describe('a service whose database goes away', () => {
  it('answers unavailable (503) naming the database, /readyz says why, and it serves again once the database is back', async (t) => {
    let wire = wireServer(0);
    const port = Number((await wire.start()).split(':')[1]);
    t.after(() => wire.stop());
    const pool = createPool(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, {
      max: 2,
      connectionTimeoutMs: 2_000,
    });
    t.after(() => pool.end());
    const { logger, lines } = capturingLogger();
    const service = new Service({
      name: 'greeter',
      registry: new MemoryRegistry(),
      logger,
      deregisterDelayMs: 0,
    })
      .handle(Say, {
        async hello(request) {
          const { rows } = await pool.query<{ greeting: string }>('SELECT $1::text AS greeting', [
            `Hello ${request.name}`,
          ]);
          return { greeting: rows[0]!.greeting };
        },
      })
      .checkReady('database', (signal) => checkDatabase(pool, signal));
    const { address } = await service.start();
    t.after(() => service.stop());
    assert.deepEqual(await hello(address, 'Ada'), { status: 200, body: { greeting: 'Hello Ada' } });
    assert.equal((await readyz(address)).status, 200);

    await wire.stop();
    // The pool's idle connection may be found lost before a new one is refused.
    const refused = `database unavailable: connection refused (127.0.0.1:${port})`;
    let answer: Answer | undefined;
    for (let attempt = 0; attempt < 5 && answer?.body.message !== refused; attempt++) {
      answer = await hello(address, 'Ada');
      assert.equal(answer.status, 503, JSON.stringify(answer));
      assert.equal(answer.body.code, 'unavailable');
      assert.match(
        answer.body.message ?? '',
        new RegExp(`^database unavailable: .+ \\(127\\.0\\.0\\.1:${port}\\)$`),
      );
    }
    assert.equal(answer?.body.message, refused);
    const notReady = await readyz(address);
    assert.equal(notReady.status, 503);
    assert.equal(notReady.checks.database, refused);
    // A transaction cannot even begin: the same answer, from pool.connect().
    await assert.rejects(
      withTransaction(pool, async () => {}),
      (error: unknown) => error instanceof ConnectError && error.code === Code.Unavailable,
    );
    assert.ok(!JSON.stringify(lines).includes(password), 'the password is in no log line');
    assert.deepEqual(
      lines.filter((line) => (line.level as number) >= 50),
      [],
      'no error-level line: the service did not fail, its database is away',
    );
    const warning = lines.find((line) => line.level === 40 && line.reason === refused);
    assert.ok(warning, 'a warning names the database');
    assert.equal(JSON.stringify(warning).includes('stack'), false);

    wire = wireServer(port);
    await wire.start();
    assert.deepEqual(await hello(address, 'Bo'), { status: 200, body: { greeting: 'Hello Bo' } });
    assert.equal((await readyz(address)).status, 200);
  });

  it('a database that accepts connections but never answers is unavailable after the connect timeout', async (t) => {
    const silent: Socket[] = [];
    const server = createServer((socket) => silent.push(socket)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      for (const socket of silent) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const { port } = server.address() as AddressInfo;
    const pool = createPool(`postgres://postgres@127.0.0.1:${port}/postgres`, { connectionTimeoutMs: 200 });
    t.after(() => pool.end());
    await assert.rejects(pool.query('SELECT 1'), (error: unknown) => {
      assert.ok(error instanceof ConnectError, String(error));
      assert.equal(error.code, Code.Unavailable);
      assert.equal(
        error.rawMessage,
        `database unavailable: no answer within the connect timeout (127.0.0.1:${port})`,
      );
      return true;
    });
  });
});

describe('errors that are the caller’s or the handler’s', () => {
  let wire: PgWireServer;
  let url: string;
  before(async () => {
    wire = wireServer(0);
    url = `postgres://postgres@${await wire.start()}/postgres`;
  });
  after(() => wire.stop());

  it('a NUL character in a text or jsonb value is invalid_argument (400), logged below error level without a stack', async (t) => {
    const pool = createPool(url, { max: 2 });
    t.after(() => pool.end());
    await pool.query('CREATE TABLE IF NOT EXISTS names (name text, doc jsonb)');
    const { logger, lines } = capturingLogger();
    logger.level = 'debug';
    const service = new Service({
      name: 'greeter',
      registry: new MemoryRegistry(),
      logger,
      deregisterDelayMs: 0,
    }).handle(Say, {
      async hello(request) {
        // A name starting with "json:" is stored as a jsonb document, any other as text.
        if (request.name.startsWith('json:')) {
          await pool.query('INSERT INTO names (doc) VALUES ($1)', [JSON.stringify({ name: request.name })]);
        } else await pool.query('INSERT INTO names (name) VALUES ($1)', [request.name]);
        return { greeting: `Hello ${request.name}` };
      },
    });
    const { address } = await service.start();
    t.after(() => service.stop());
    assert.equal((await hello(address, 'Ada')).status, 200);
    for (const name of ['A\u0000da', 'json:A\u0000da']) {
      assert.deepEqual(await hello(address, name), {
        status: 400,
        body: { code: 'invalid_argument', message: nulDetail },
      });
    }
    assert.deepEqual(
      lines.filter((line) => (line.level as number) >= 40),
      [],
      'nothing at warn or above: the caller sent what cannot be stored',
    );
    const debug = lines.filter((line) => line.msg === 'call failed');
    assert.equal(debug.length, 2);
    assert.equal(debug[0]!.reason, nulDetail);
    assert.equal(JSON.stringify(debug).includes('stack'), false);
  });

  it('other SQLSTATEs stay as pg raised them, for handlers that expect them (23505, 22001, 22P02)', async (t) => {
    const pool = createPool(url, { max: 2 });
    t.after(() => pool.end());
    await pool.query('CREATE TABLE IF NOT EXISTS codes (id varchar(3) PRIMARY KEY)');
    await pool.query(`INSERT INTO codes VALUES ('a')`);
    for (const [sql, params, code] of [
      ['INSERT INTO codes VALUES ($1)', ['a'], '23505'],
      ['INSERT INTO codes VALUES ($1)', ['abcd'], '22001'],
      ['SELECT $1::int', ['x'], '22P02'],
    ] as const) {
      await assert.rejects(pool.query(sql, [...params]), (error: unknown) => {
        assert.ok(!(error instanceof ConnectError), `${code} stays a pg error`);
        assert.equal((error as { code?: string }).code, code);
        return true;
      });
    }
  });
});

describe('databaseError', () => {
  const server = '10.0.0.5:5432';
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

  it('maps what means the database cannot be reached, by code or by pg’s message', () => {
    for (const [error, reason] of [
      [withCode('connect ECONNREFUSED 10.0.0.5:5432', 'ECONNREFUSED'), 'connection refused'],
      [withCode('read ECONNRESET', 'ECONNRESET'), 'connection reset'],
      [withCode('getaddrinfo ENOTFOUND postgres', 'ENOTFOUND'), 'host not found'],
      [
        new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'connect failed'),
        'connection refused',
      ],
      [new Error('Connection terminated unexpectedly'), 'connection lost'],
      [new Error('timeout exceeded when trying to connect'), 'no free connection within the connect timeout'],
      [
        withCode('terminating connection due to administrator command', '57P01'),
        'terminating connection due to administrator command (SQLSTATE 57P01)',
      ],
      [
        withCode('the database system is starting up', '57P03'),
        'the database system is starting up (SQLSTATE 57P03)',
      ],
      [withCode('connection failure', '08006'), 'connection failure (SQLSTATE 08006)'],
    ] as const) {
      const mapped = databaseError(error, server);
      assert.equal(mapped?.code, Code.Unavailable, error.message);
      assert.equal(mapped?.rawMessage, `database unavailable: ${reason} (${server})`);
      assert.equal(mapped?.cause, error);
    }
  });

  it('leaves other errors alone', () => {
    for (const error of [
      withCode('duplicate key value violates unique constraint', '23505'),
      withCode('syntax error at or near "SELEC"', '42601'),
      new ConnectError('no vessel', Code.NotFound),
      'not an error',
    ]) {
      assert.equal(databaseError(error, server), undefined, String(error));
    }
  });

  it('serverOf names host and port, never user or password', () => {
    assert.equal(serverOf('postgres://app:s3cret@db.internal:6432/shippy'), 'db.internal:6432');
    assert.equal(serverOf('postgres://app:s3cret@db/shippy'), 'db:5432');
    assert.equal(serverOf('postgres:///shippy?host=/run/postgresql'), '/run/postgresql:5432');
    assert.equal(serverOf('not a url s3cret'), 'unparseable database URL');
  });
});
