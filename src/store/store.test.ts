import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { before, describe, it } from 'node:test';
import pg from 'pg';
import { type PgliteServer, startPgliteServer } from '../../test/broker/pglite-server.ts';
import { fileCleanup } from '../../test/support/cleanup.ts';
import { type Migration, migrate } from './migrate.ts';
import { checkDatabase, createPool, qualify, redactUrl, waitForDatabase, withTransaction } from './pool.ts';

const cleanup = fileCleanup();
let pglite: PgliteServer;
let pool: pg.Pool;

before(async () => {
  pglite = await startPgliteServer();
  cleanup(() => pglite.stop());
  pool = createPool(pglite.url, { max: 2 });
  cleanup(() => pool.end());
});

const tables = async (schema: string) =>
  (
    await pool.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    )
  ).rows.map((row) => row.table_name);

describe('migrate', () => {
  const migrations: Migration[] = [
    { id: '001_a', sql: 'CREATE TABLE a (id int PRIMARY KEY)' },
    { id: '002_b', run: async (tx) => void (await tx.query('CREATE TABLE b (id int PRIMARY KEY)')) },
  ];

  it('applies pending migrations in the schema, once', async () => {
    const searchPath = (await pool.query('SHOW search_path')).rows[0].search_path;
    assert.deepEqual(await migrate(pool, 'first', migrations), ['001_a', '002_b']);
    assert.deepEqual(await tables('first'), ['a', 'b', 'berth_migrations']);
    assert.deepEqual(await migrate(pool, 'first', migrations), []);
    const more = [...migrations, { id: '003_c', sql: 'INSERT INTO a VALUES (1)' }];
    assert.deepEqual(await migrate(pool, 'first', more), ['003_c']);
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM first.a')).rows[0].n, 1);
    // search_path was set for the migration transaction only.
    assert.equal((await pool.query('SHOW search_path')).rows[0].search_path, searchPath);
  });

  it('lets replicas starting together apply each migration exactly once', async () => {
    const other = createPool(pglite.url, { max: 2 });
    cleanup(() => other.end());
    const results = await Promise.all([
      migrate(pool, 'raced', migrations),
      migrate(other, 'raced', migrations),
    ]);
    assert.deepEqual(results.flat().sort(), ['001_a', '002_b']);
  });

  it('rolls the whole batch back when one migration fails, naming it', async () => {
    const failing = [migrations[0], { id: '002_broken', sql: 'CREATE TABLE nope (' }];
    await assert.rejects(
      migrate(pool, 'broken', failing),
      /migration "002_broken" of schema "broken" failed/,
    );
    assert.deepEqual(await tables('broken'), []);
  });

  it('refuses a list with a repeated id', async () => {
    await assert.rejects(migrate(pool, 'twice', [migrations[0], migrations[0]]), /"001_a" appears twice/);
  });

  it('quotes schema names, so reserved words such as user work', async () => {
    assert.equal(qualify('user', 'users'), '"user".users');
    await migrate(pool, 'user', [{ id: '001', sql: 'CREATE TABLE users (id int)' }]);
    await pool.query(`INSERT INTO ${qualify('user', 'users')} VALUES (7)`);
    assert.equal((await pool.query(`SELECT id FROM ${qualify('user', 'users')}`)).rows[0].id, 7);
  });
});

describe('withTransaction', () => {
  it('commits when the function resolves and rolls back when it throws', async () => {
    await pool.query('CREATE TABLE tx_test (id int PRIMARY KEY)');
    assert.equal(
      await withTransaction(pool, async (tx) => (await tx.query('INSERT INTO tx_test VALUES (1)')).rowCount),
      1,
    );
    await assert.rejects(
      withTransaction(pool, async (tx) => {
        await tx.query('INSERT INTO tx_test VALUES (2)');
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.deepEqual((await pool.query('SELECT id FROM tx_test')).rows, [{ id: 1 }]);
  });
});

describe('readiness', () => {
  it('checkDatabase answers when the database does, and gives up when the signal aborts', async () => {
    await checkDatabase(pool, AbortSignal.timeout(5_000));
    await assert.rejects(checkDatabase(pool, AbortSignal.abort()));
  });

  it('waitForDatabase gives up with the reason after its timeout', async () => {
    // A port nothing listens on any more: the server went away.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const probe = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    cleanup(() => probe.end());
    await assert.rejects(
      waitForDatabase(probe, { timeoutMs: 200 }),
      /database not reachable after \d+ attempts: .*ECONNREFUSED/,
    );
    // createPool's own pools name the server in berth's words.
    const named = createPool(`postgres://postgres:pw@127.0.0.1:${port}/postgres`);
    cleanup(() => named.end());
    await assert.rejects(
      waitForDatabase(named, { timeoutMs: 200 }),
      new RegExp(
        `^Error: database not reachable after \\d+ attempts: database unavailable: connection refused \\(127\\.0\\.0\\.1:${port}\\)$`,
      ),
    );
  });

  it('waitForDatabase stops at once when the server refuses the credentials or has no such database', async () => {
    for (const [code, message, fix] of [
      ['28P01', 'password authentication failed for user "app"', /check the user and password/],
      ['3D000', 'database "shipy" does not exist', /create the database, or fix its name/],
    ] as const) {
      // A server that answers every startup with this PostgreSQL ErrorResponse.
      const fields = Buffer.from(`SFATAL\0C${code}\0M${message}\0\0`);
      const header = Buffer.alloc(5);
      header.write('E');
      header.writeInt32BE(4 + fields.length, 1);
      const refusing = createServer((socket) =>
        socket.once('data', () => socket.end(Buffer.concat([header, fields]))),
      );
      refusing.listen(0, '127.0.0.1');
      await once(refusing, 'listening');
      cleanup(() => new Promise((resolve) => refusing.close(resolve)));
      const { port } = refusing.address() as AddressInfo;
      const probe = new pg.Pool({ connectionString: `postgres://app:x@127.0.0.1:${port}/shipy` });
      cleanup(() => probe.end());
      // Without the refusal check this would retry for 30 s, then fail "not reachable".
      await assert.rejects(waitForDatabase(probe, { timeoutMs: 30_000 }), (error: Error) => {
        assert.match(error.message, new RegExp(`the database refused the connection: .*SQLSTATE ${code}`));
        assert.match(error.message, fix);
        return true;
      });
    }
  });

  it('redactUrl hides the password', () => {
    assert.equal(redactUrl('postgres://app:s3cret@db:5432/shippy'), 'postgres://app:***@db:5432/shippy');
    assert.equal(redactUrl('postgres://db/shippy'), 'postgres://db/shippy');
  });
});
