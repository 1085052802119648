/**
 * The four shippy services built and started in this process, on one PGlite served
 * over the wire protocol and a MemoryRegistry, called through typed clients as the
 * services call each other. One file, so the slow PGlite start happens once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Code, ConfigError, ConnectError, MemoryRegistry } from 'berth';
import { DirectBroker } from 'berth/broker/direct';
import { SignJWT } from 'jose';
import type { PgliteServer } from '../../../../test/broker/pglite-server.ts';
import { createConsignmentService } from '../../consignment/service.ts';
import { createEmailService } from '../../email/service.ts';
import { ConsignmentService } from '../../gen/shippy/consignment/v1/consignment_pb.js';
import { UserService } from '../../gen/shippy/user/v1/user_pb.js';
import { VesselService } from '../../gen/shippy/vessel/v1/vessel_pb.js';
import { createUserService } from '../../user/service.ts';
import { loadSigningKey } from '../../user/tokens.ts';
import { createVesselService } from '../../vessel/service.ts';
import {
  bearer,
  type Clients,
  clientsFor,
  fileCleanup,
  serviceEnv,
  startInProcess,
  startPgliteServer,
  tempDataDir,
  testJwtSecret,
  testRuntime,
  waitFor,
} from './support.ts';

async function rejectsWith(promise: Promise<unknown>, code: Code, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    assert.equal(Code[error.code], Code[code], error.rawMessage);
    assert.match(error.rawMessage, message);
    return true;
  });
}

const registry = new MemoryRegistry();
const cleanup = fileCleanup();
let pglite: PgliteServer;
let env: Record<string, string>;
let dataDir: string;
let clients: Clients;

before(async () => {
  pglite = await startPgliteServer();
  cleanup(() => pglite.stop());
  dataDir = await tempDataDir(cleanup);
  env = serviceEnv(pglite.url, dataDir);
  const runtime = testRuntime(registry, env);
  // Started together, as `berth run` does: each migrates its own schema.
  await Promise.all(
    [createVesselService, createUserService, createEmailService, createConsignmentService].map((build) =>
      startInProcess(build, runtime, cleanup),
    ),
  );
  clients = await clientsFor(registry, cleanup);
});

let userCount = 0;
/** A new user and their token. */
async function signUp(name = 'Ewan'): Promise<{ id: string; email: string; token: string }> {
  const email = `${name.toLowerCase()}.${++userCount}@example.com`;
  const { user, token } = await clients
    .client(UserService)
    .create({ name, company: 'Shippy Ltd', email, password: 'correct horse battery' });
  return { id: user!.id, email, token };
}

describe('configuration', () => {
  it('refuses to start without DATABASE_URL, naming the variable', async () => {
    const { DATABASE_URL: _, ...rest } = env;
    await assert.rejects(
      createVesselService(testRuntime(registry, rest)),
      (error: unknown) =>
        error instanceof ConfigError && /databaseUrl: missing.*DATABASE_URL/.test(error.message),
    );
  });

  it('rejects a short JWT_SECRET without echoing it', async () => {
    const secret = 'short-secret-value';
    await assert.rejects(
      createUserService(testRuntime(registry, { ...env, JWT_SECRET: secret })),
      (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(
          error.message,
          /environment variable JWT_SECRET: jwtSecret: expected a secret of at least 32/,
        );
        assert.ok(!error.message.includes(secret), error.message);
        return true;
      },
    );
  });

  it('a JWT_SECRET_FILE that cannot be read is named, with why', async () => {
    const missing = join(dataDir, 'no-such-secret');
    await assert.rejects(
      loadSigningKey({ berthDataDir: dataDir, jwtSecretFile: missing }),
      new RegExp(`JWT_SECRET_FILE ${missing}: cannot read it \\(ENOENT\\)`),
    );
  });

  it('creates the signing key file once (mode 0600) when no secret is configured', async () => {
    const keys = await Promise.all([
      loadSigningKey({ berthDataDir: dataDir }),
      loadSigningKey({ berthDataDir: dataDir }),
    ]);
    assert.deepEqual(keys[0], keys[1]);
    assert.ok(keys[0].length >= 32);
    const file = join(dataDir, 'user', 'jwt.key');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await loadSigningKey({ berthDataDir: dataDir }), keys[0]);
    assert.deepEqual((await readdir(join(dataDir, 'user'))).sort(), ['jwt.key'], 'no temp files left');
  });
});

describe('vessel', () => {
  const vessels = () => clients.client(VesselService);

  it("is seeded with Kane's Salty Secret", async () => {
    const { vessel } = await vessels().findAvailable({ capacity: 500, maxWeight: 200000 });
    assert.deepEqual(
      { id: vessel?.id, name: vessel?.name, capacity: vessel?.capacity, maxWeight: vessel?.maxWeight },
      { id: 'vessel001', name: "Kane's Salty Secret", capacity: 500, maxWeight: 200000 },
    );
    assert.equal(vessel?.available, true);
  });

  it('rejects invalid vessels, naming the field', async () => {
    const valid = { name: 'Boaty', capacity: 10, maxWeight: 1000, available: true };
    await rejectsWith(
      vessels().create({ ...valid, name: '  ' }),
      Code.InvalidArgument,
      /^name must not be empty/,
    );
    await rejectsWith(vessels().create({ ...valid, capacity: 0 }), Code.InvalidArgument, /^capacity .*got 0/);
    await rejectsWith(
      vessels().create({ ...valid, maxWeight: -5 }),
      Code.InvalidArgument,
      /^max_weight .*got -5/,
    );
  });

  it('creates vessels with a generated id, or with the id given, once', async () => {
    const created = await vessels().create({
      name: ' Small Fry ',
      capacity: 2,
      maxWeight: 50,
      available: true,
    });
    assert.equal(created.created, true);
    assert.equal(created.vessel?.name, 'Small Fry');
    assert.match(created.vessel?.id ?? '', /^[0-9a-f-]{36}$/);
    const given = { id: 'vessel-given', name: 'Given', capacity: 3, maxWeight: 60, available: false };
    assert.equal((await vessels().create(given)).vessel?.id, 'vessel-given');
    await rejectsWith(vessels().create(given), Code.AlreadyExists, /vessel-given/);
  });

  it('finds the first available vessel large enough, in creation order', async () => {
    // The seed comes first and carries anything smaller vessels could.
    assert.equal((await vessels().findAvailable({ capacity: 1, maxWeight: 1 })).vessel?.id, 'vessel001');
    await vessels().create({ id: 'big', name: 'Big', capacity: 900, maxWeight: 900000, available: true });
    await vessels().create({ id: 'off', name: 'Off', capacity: 2000, maxWeight: 2000000, available: false });
    assert.equal((await vessels().findAvailable({ capacity: 501, maxWeight: 1 })).vessel?.id, 'big');
    await rejectsWith(
      vessels().findAvailable({ capacity: 901, maxWeight: 1 }),
      Code.NotFound,
      /no available vessel with capacity >= 901/,
    );
    await rejectsWith(
      vessels().findAvailable({ capacity: -1, maxWeight: 1 }),
      Code.InvalidArgument,
      /capacity/,
    );
  });

  it('lists every vessel; a second replica neither re-migrates nor re-seeds', async () => {
    const listed = (await vessels().list({})).vessels.map((vessel) => vessel.id);
    assert.equal(listed[0], 'vessel001');
    assert.ok(listed.includes('off'), 'unavailable vessels are listed too');
    await startInProcess(createVesselService, testRuntime(registry, env), cleanup);
    assert.deepEqual(
      (await vessels().list({})).vessels.map((vessel) => vessel.id),
      listed,
    );
  });
});

describe('user', () => {
  const users = () => clients.client(UserService);
  const valid = { name: 'Ada', company: '', email: 'ada@example.com', password: 'long enough' };

  it('validates name, email and password', async () => {
    await rejectsWith(users().create({ ...valid, name: '' }), Code.InvalidArgument, /^name/);
    await rejectsWith(users().create({ ...valid, email: 'ada@' }), Code.InvalidArgument, /^email/);
    await rejectsWith(users().create({ ...valid, email: 'ada example.com' }), Code.InvalidArgument, /^email/);
    await rejectsWith(
      users().create({ ...valid, password: 'short' }),
      Code.InvalidArgument,
      /^password .* 8/,
    );
  });

  it('creates a user: a token, no password back, an argon2 hash stored', async () => {
    const created = await users().create({ ...valid, email: ' Ada@Example.com ' });
    assert.equal(created.user?.email, 'ada@example.com');
    assert.equal(created.user?.password, '');
    assert.match(created.user?.id ?? '', /^[0-9a-f-]{36}$/);
    const { userId } = await users().validateToken({ token: created.token });
    assert.equal(userId, created.user?.id);
    const { rows } = await pglite.pool.query('SELECT password_hash FROM "user".users WHERE email = $1', [
      'ada@example.com',
    ]);
    assert.match(rows[0].password_hash, /^\$argon2id\$/);
    assert.ok(!rows[0].password_hash.includes(valid.password));
  });

  it('refuses a second account with the same email, whatever its case', async () => {
    await rejectsWith(
      users().create({ ...valid, email: 'ADA@example.com' }),
      Code.AlreadyExists,
      /ada@example\.com already exists/,
    );
  });

  it('authenticates, with one answer for an unknown email and a wrong password', async () => {
    const { token, userId } = await users().auth({ email: 'ADA@example.com', password: valid.password });
    assert.equal((await users().validateToken({ token })).userId, userId);
    await rejectsWith(
      users().auth({ email: 'ada@example.com', password: 'wrong password' }),
      Code.Unauthenticated,
      /^invalid email or password$/,
    );
    await rejectsWith(
      users().auth({ email: 'nobody@example.com', password: valid.password }),
      Code.Unauthenticated,
      /^invalid email or password$/,
    );
  });

  it('rejects tokens that are malformed, expired, or signed by another key', async () => {
    const sign = (key: string, expiresAt: number) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('someone')
        .setIssuer('shippy.user')
        .setExpirationTime(expiresAt)
        .sign(new TextEncoder().encode(key));
    const now = Math.floor(Date.now() / 1000);
    assert.equal(
      (await users().validateToken({ token: await sign(testJwtSecret, now + 60) })).userId,
      'someone',
    );
    for (const token of [
      '',
      'not-a-jwt',
      await sign(testJwtSecret, now - 60),
      await sign(`${testJwtSecret}x`, now + 60),
    ]) {
      await rejectsWith(users().validateToken({ token }), Code.Unauthenticated, /^invalid or expired token$/);
    }
  });

  it('gets one user or all, never with a password', async () => {
    const { user } = await users()
      .auth({ email: valid.email, password: valid.password })
      .then(({ userId }) => users().get({ id: userId }));
    assert.equal(user?.email, 'ada@example.com');
    await rejectsWith(users().get({ id: 'no-such-user' }), Code.NotFound, /no-such-user/);
    const all = (await users().getAll({})).users;
    assert.ok(all.some((u) => u.email === 'ada@example.com'));
    assert.ok(all.every((u) => u.password === ''));
  });
});

describe('email', () => {
  const outbox = () => join(dataDir, 'email', 'outbox');
  const processed = async (eventId: string) =>
    Number(
      (
        await pglite.pool.query(
          'SELECT count(*) AS n FROM email.berth_processed_events WHERE event_id = $1',
          [eventId],
        )
      ).rows[0].n,
    );

  it('sends one welcome mail per new user, as an .eml file named by the event id', async () => {
    const { id, email } = await signUp('Grace');
    const eventId = await waitFor(
      async () =>
        (
          await pglite.pool.query(
            `SELECT id FROM "user".berth_outbox WHERE topic = 'user.created' AND data->>'id' = $1 AND delivered_at IS NOT NULL`,
            [id],
          )
        ).rows[0]?.id as string | undefined,
      { what: 'user.created to be delivered' },
    );
    const file = join(outbox(), `${eventId}.eml`);
    await waitFor(() => existsSync(file), { what: file });
    const mail = await readFile(file, 'utf8');
    assert.match(mail, new RegExp(`^To: ${email.replace('.', '\\.')}$`, 'm'));
    assert.match(mail, /^Subject: Welcome to Shippy, Grace$/m);
    assert.match(mail, new RegExp(`^Message-ID: <${eventId}@shippy\\.email>$`, 'm'));
    assert.match(mail, /Content-Type: text\/plain/);
    assert.match(mail, /Content-Type: text\/html/);
    assert.equal(await processed(eventId), 1);
  });

  it('drops a redelivered event, and acknowledges one it cannot read', async () => {
    const broker = await DirectBroker.start({ registry, system: 'shippy' });
    cleanup(() => broker.close());
    await waitFor(() => broker.subscribers('user.created').length > 0, { what: 'the email subscriber' });
    const data = { id: 'u-redelivered', name: 'Linus', company: '', email: 'linus@example.com' };
    await broker.publish('user.created', { id: 'event-redelivered', data });
    const file = join(outbox(), 'event-redelivered.eml');
    assert.ok(existsSync(file));
    await rm(file);
    await broker.publish('user.created', { id: 'event-redelivered', data });
    assert.ok(!existsSync(file), 'the duplicate was sent again');
    assert.equal(await processed('event-redelivered'), 1);

    await broker.publish('user.created', { id: 'event-malformed', data: { name: 42 } });
    assert.ok(!existsSync(join(outbox(), 'event-malformed.eml')));
  });
});

describe('consignment', () => {
  const consignments = () => clients.client(ConsignmentService);
  const containers = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      customerId: `customer-${i}`,
      origin: 'Manchester, United Kingdom',
    }));

  it('requires a valid bearer token on every call', async () => {
    const { token } = await signUp();
    const request = { description: 'x', weight: 10, containers: containers(1) };
    await rejectsWith(consignments().get({}), Code.Unauthenticated, /missing Authorization: Bearer/);
    await rejectsWith(consignments().create(request), Code.Unauthenticated, /missing Authorization: Bearer/);
    await rejectsWith(
      consignments().create(request, { headers: { authorization: `Token ${token}` } }),
      Code.Unauthenticated,
      /missing Authorization: Bearer/,
    );
    await rejectsWith(
      consignments().get({}, bearer('forged.token.value')),
      Code.Unauthenticated,
      /^invalid or expired token$/,
    );
    // The scheme is case-insensitive, as headers are.
    assert.deepEqual(
      (await consignments().get({}, { headers: { Authorization: `bearer ${token}` } })).consignments,
      [],
    );
  });

  it('validates consignments', async () => {
    const { token } = await signUp();
    const create = (request: Parameters<ReturnType<typeof consignments>['create']>[0]) =>
      consignments().create(request, bearer(token));
    await rejectsWith(
      create({ weight: 0, containers: containers(1) }),
      Code.InvalidArgument,
      /^weight must be greater than 0/,
    );
    await rejectsWith(
      create({ weight: 5, containers: [] }),
      Code.InvalidArgument,
      /^containers must not be empty/,
    );
    await rejectsWith(
      create({ weight: 5, containers: containers(1001) }),
      Code.InvalidArgument,
      /at most 1000 .*got 1001/,
    );
  });

  it("assigns a vessel, stores the consignment, and lists only the caller's", async () => {
    const owner = await signUp('Owner');
    const other = await signUp('Other');
    const created = await consignments().create(
      { description: 'This is a test consignment', weight: 55000, containers: containers(3) },
      bearer(owner.token),
    );
    assert.equal(created.created, true);
    assert.equal(created.consignment?.vesselId, 'vessel001');
    assert.equal(created.consignment?.vesselName, "Kane's Salty Secret");
    assert.equal(created.consignment?.userId, owner.id);
    const { consignments: listed } = await consignments().get({}, bearer(owner.token));
    assert.equal(listed.length, 1);
    assert.equal(listed[0].id, created.consignment?.id);
    assert.deepEqual(
      listed[0].containers.map((c) => c.customerId),
      ['customer-0', 'customer-1', 'customer-2'],
    );
    assert.equal(listed[0].vesselName, "Kane's Salty Secret");
    assert.deepEqual((await consignments().get({}, bearer(other.token))).consignments, []);
  });

  it('fails with FailedPrecondition when no vessel can carry it', async () => {
    const { token } = await signUp();
    await rejectsWith(
      consignments().create({ weight: 5_000_000, containers: containers(2) }, bearer(token)),
      Code.FailedPrecondition,
      /^no vessel can carry 2 containers weighing 5000000$/,
    );
  });

  it('stores a retried create once, and keeps an id to its owner', async () => {
    const owner = await signUp('Retry');
    const request = { id: 'client-chosen-id', description: 'retried', weight: 10, containers: containers(2) };
    const first = await consignments().create(request, bearer(owner.token));
    const again = await consignments().create(request, bearer(owner.token));
    assert.deepEqual(again.consignment, first.consignment);
    assert.equal((await consignments().get({}, bearer(owner.token))).consignments.length, 1);
    const { token } = await signUp('Thief');
    await rejectsWith(consignments().create(request, bearer(token)), Code.AlreadyExists, /client-chosen-id/);
  });
});
