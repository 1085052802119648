/**
 * The database roles script (src/kube/database-roles.ts) run by psql, as its Job
 * runs it, against a real PostgreSQL (test/support/real-backends.sh: Debian's
 * postgresql, trust auth on 127.0.0.1, so passwords are not what is checked here;
 * the real-node suite logs in with them). What each service's role may do: its
 * own schema, made by berth/store's migrate, and nothing of another's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { rolesScript } from '../../src/kube/database-roles.ts';
import { migrate } from '../../src/store/migrate.ts';
import { parseExports } from '../support/exports.ts';
import { repoRoot } from '../support/processes.ts';

const backends = join(repoRoot, 'test/support/real-backends.sh');
let env: Record<string, string>;
let superuser: URL;

before(() => {
  const started = spawnSync('bash', [backends, 'start'], { encoding: 'utf8' });
  assert.equal(started.status, 0, started.stderr);
  env = parseExports(started.stdout);
  superuser = new URL(env.DATABASE_URL!);
});
after(() => {
  if (env) spawnSync('bash', [backends, 'stop', env.BERTH_REAL_BACKENDS_DIR!], { stdio: 'inherit' });
});

/** psql on the script, as the Job runs it: the superuser's connection and one password variable per role. */
function runScript(users: readonly string[]): { status: number | null; stderr: string } {
  const file = join(mkdtempSync(join(tmpdir(), 'berth-roles-')), 'roles.sql');
  writeFileSync(file, rolesScript(users));
  const passwords = Object.fromEntries(
    users.map((user) => [`BERTH_PASSWORD_${user.replaceAll('-', '_').toUpperCase()}`, `pw-${user}`]),
  );
  const run = spawnSync('psql', ['--no-psqlrc', `--file=${file}`], {
    encoding: 'utf8',
    env: {
      ...process.env,
      ...passwords,
      PGHOST: superuser.hostname,
      PGPORT: superuser.port,
      PGUSER: 'postgres',
      PGDATABASE: 'postgres',
    },
  });
  return { status: run.status, stderr: run.stderr };
}

function urlOf(user: string): string {
  const url = new URL(superuser);
  url.username = user;
  return url.toString();
}

async function as<T>(user: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlOf(user) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const refusal = (user: string, sql: string) =>
  as(user, (client) => client.query(sql)).then(
    () => 'allowed',
    (error: Error) => error.message,
  );

test("each service's role owns its schema and cannot reach another's; a schema made before roles is handed over with its data", async () => {
  // Before per-service roles, services logged in as the superuser: vessel's schema and rows are postgres's.
  await as('postgres', async (client) => {
    await client.query('CREATE SCHEMA vessel');
    await client.query('CREATE TABLE vessel.vessels (id serial PRIMARY KEY, name text NOT NULL)');
    await client.query("INSERT INTO vessel.vessels (name) VALUES ('Boaty')");
    await client.query('CREATE VIEW vessel.names AS SELECT name FROM vessel.vessels');
  });

  const first = runScript(['order-history', 'user', 'vessel']);
  assert.equal(first.status, 0, first.stderr);

  // vessel's old rows are its own now, sequence included.
  await as('vessel', async (client) => {
    await client.query("INSERT INTO vessel.vessels (name) VALUES ('Second')");
    const { rows } = await client.query('SELECT name FROM vessel.names ORDER BY name');
    assert.deepEqual(
      rows.map((row) => row.name),
      ['Boaty', 'Second'],
    );
  });
  // user makes its schema as berth/store does, at its first start.
  const userPool = new pg.Pool({ connectionString: urlOf('user') });
  try {
    await migrate(userPool, 'user', [
      { id: '001-users', sql: 'CREATE TABLE users (id text PRIMARY KEY, email text NOT NULL)' },
    ]);
  } finally {
    await userPool.end();
  }
  await as('user', (client) => client.query(`INSERT INTO "user".users VALUES ('u1', 'a@example.com')`));

  assert.match(await refusal('vessel', 'SELECT * FROM "user".users'), /permission denied for schema user/);
  assert.match(await refusal('user', 'SELECT * FROM vessel.vessels'), /permission denied for schema vessel/);
  assert.match(await refusal('order-history', 'SELECT * FROM vessel.vessels'), /permission denied/);
  assert.match(await refusal('vessel', 'CREATE ROLE intruder'), /permission denied to create role/);
  assert.match(await refusal('vessel', 'CREATE DATABASE other'), /permission denied to create database/);
  assert.match(await refusal('vessel', 'ALTER ROLE vessel SUPERUSER'), /must be superuser/);
  assert.match(
    await refusal('vessel', 'CREATE TABLE public.t (x int)'),
    /permission denied for schema public/,
  );
  const roles = await as('postgres', (client) =>
    client.query(
      "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname IN ('order-history', 'user', 'vessel') ORDER BY rolname",
    ),
  );
  assert.deepEqual(
    roles.rows.map((row) => [row.rolname, row.rolsuper, row.rolcreaterole, row.rolcreatedb, row.rolcanlogin]),
    [
      ['order-history', false, false, false, true],
      ['user', false, false, false, true],
      ['vessel', false, false, false, true],
    ],
  );

  // Idempotent: the next release's Job (a service added) runs the script again over what exists.
  const second = runScript(['email', 'order-history', 'user', 'vessel']);
  assert.equal(second.status, 0, second.stderr);
  const count = await as('user', (client) => client.query('SELECT count(*)::int AS n FROM "user".users'));
  assert.equal(count.rows[0].n, 1);
});

test('a missing password stops the script with psql naming the statement, before the role can log in', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'berth-roles-')), 'roles.sql');
  writeFileSync(file, rolesScript(['nopassword']));
  const run = spawnSync('psql', ['--no-psqlrc', `--file=${file}`], {
    encoding: 'utf8',
    env: { ...process.env, PGHOST: superuser.hostname, PGPORT: superuser.port, PGUSER: 'postgres' },
  });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /syntax error/);
  const login = await as('postgres', (client) =>
    client.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'nopassword'"),
  );
  assert.deepEqual(login.rows, [{ rolcanlogin: false }]);
});
