/**
 * The user service, two instances built in this process on one PGlite (as two
 * replicas share one database), each on its own MemoryRegistry so a test decides
 * which replica it calls: accounts, access rules, token claims, logout on every
 * replica, strict emails and every input limit.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Code, MemoryRegistry, type TypedClient } from 'berth';
import { SignJWT } from 'jose';
import type { PgliteServer } from '../../../../test/broker/pglite-server.ts';
import { UserService } from '../../gen/shippy/user/v1/user_pb.js';
import { createUserService } from '../../user/service.ts';
import {
  bearer,
  clientsFor,
  fileCleanup,
  serviceEnv,
  startInProcess,
  startPgliteServer,
  tempDataDir,
  testJwtSecret,
  testRuntime,
} from './support.ts';
import { rejectsWith } from './system.ts';

const cleanup = fileCleanup();
let pglite: PgliteServer;
/** Replica A and replica B of the user service. */
let users: TypedClient<typeof UserService>;
let otherReplica: TypedClient<typeof UserService>;

before(async () => {
  pglite = await startPgliteServer();
  cleanup(() => pglite.stop());
  const env = serviceEnv(pglite.url, await tempDataDir(cleanup));
  const registries = [new MemoryRegistry(), new MemoryRegistry()];
  // Started together, as replicas are: the second waits for the first one's migrations.
  await Promise.all(
    registries.map((registry) => startInProcess(createUserService, testRuntime(registry, env), cleanup)),
  );
  [users, otherReplica] = await Promise.all(
    registries.map(async (registry) => (await clientsFor(registry, cleanup)).client(UserService)),
  );
});

const password = 'correct horse battery';
let userCount = 0;
/** A new account and its token. */
async function signUp(name = 'Ewan'): Promise<{ id: string; email: string; token: string }> {
  const email = `${name.toLowerCase()}.${++userCount}@example.com`;
  const { user, token } = await users.create({ name, company: 'Shippy Ltd', email, password });
  return { id: user!.id, email, token };
}

/** A token signed with the service's key, with `claims` as given (numbers are seconds from now). */
function signed(claims: { sub?: string; iat?: number; exp?: number; jti?: string; iss?: string }) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(claims.jti === undefined ? {} : { jti: claims.jti }) }).setProtectedHeader({
    alg: 'HS256',
  });
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  if (claims.iat !== undefined) jwt.setIssuedAt(now + claims.iat);
  if (claims.exp !== undefined) jwt.setExpirationTime(now + claims.exp);
  jwt.setIssuer(claims.iss ?? 'shippy.user');
  return jwt.sign(new TextEncoder().encode(testJwtSecret));
}

const invalidToken = /^invalid or expired token$/;

describe('accounts', () => {
  const valid = { name: 'Ada', company: '', email: 'ada@example.com', password: 'long enough' };

  it('creates a user: a token, no password back, an argon2 hash stored', async () => {
    const created = await users.create({ ...valid, email: ' Ada@Example.com ' });
    assert.equal(created.user?.email, 'ada@example.com');
    assert.equal(created.user?.password, '');
    assert.match(created.user?.id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal((await users.validateToken({ token: created.token })).userId, created.user?.id);
    const { rows } = await pglite.pool.query('SELECT password_hash FROM "user".users WHERE email = $1', [
      'ada@example.com',
    ]);
    assert.match(rows[0].password_hash, /^\$argon2id\$/);
    assert.ok(!rows[0].password_hash.includes(valid.password));
  });

  it('refuses a second account with the same email, whatever its case, without naming it', async () => {
    for (const email of ['ada@example.com', 'ADA@example.com', ' ada@EXAMPLE.com']) {
      const message = await rejectsWith(
        users.create({ ...valid, email }),
        Code.AlreadyExists,
        /^an account with this email already exists$/,
      );
      assert.ok(!message.toLowerCase().includes('ada'), message);
    }
  });

  it('authenticates, with one answer for an unknown email, a wrong password and impossible input', async () => {
    const { token, userId } = await users.auth({ email: 'ADA@example.com', password: valid.password });
    assert.equal((await users.validateToken({ token })).userId, userId);
    for (const attempt of [
      { email: 'ada@example.com', password: 'wrong password' },
      { email: 'nobody@example.com', password: valid.password },
      { email: 'ada@example.com', password: 'x'.repeat(201) },
      { email: 'ada@example.com,eve@example.com', password: valid.password },
      { email: '', password: '' },
    ]) {
      await rejectsWith(users.auth(attempt), Code.Unauthenticated, /^invalid email or password$/);
    }
  });
});

describe('access: a user sees only themself', () => {
  it('Get and GetAll without a token, or with a bad one, are Unauthenticated', async () => {
    const { id } = await signUp();
    for (const call of [
      (options?: { headers: Record<string, string> }) => users.get({ id }, options),
      (options?: { headers: Record<string, string> }) => users.getAll({}, options),
    ]) {
      await rejectsWith(call(), Code.Unauthenticated, /missing Authorization: Bearer/);
      await rejectsWith(
        call({ headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
        Code.Unauthenticated,
        /missing Authorization: Bearer/,
      );
      await rejectsWith(call(bearer('forged.token.value')), Code.Unauthenticated, invalidToken);
    }
  });

  it('Get answers for the caller, and NotFound for anyone else, existing or not', async () => {
    const me = await signUp('Me');
    const other = await signUp('Other');
    const { user } = await users.get({ id: me.id }, bearer(me.token));
    assert.deepEqual(
      { id: user?.id, email: user?.email, name: user?.name, password: user?.password },
      { id: me.id, email: me.email, name: 'Me', password: '' },
    );
    const existing = await rejectsWith(
      users.get({ id: other.id }, bearer(me.token)),
      Code.NotFound,
      /^no user with id "/,
    );
    const missing = await rejectsWith(
      users.get({ id: 'no-such-user' }, bearer(me.token)),
      Code.NotFound,
      /^no user with id "/,
    );
    assert.equal(existing.replace(other.id, '<id>'), missing.replace('no-such-user', '<id>'));
    await rejectsWith(users.get({ id: '' }, bearer(me.token)), Code.InvalidArgument, /^id is required/);
    await rejectsWith(
      users.get({ id: 'i'.repeat(101) }, bearer(me.token)),
      Code.InvalidArgument,
      /^id must be at most 100 characters \(got 101\)$/,
    );
  });

  it('GetAll lists only the caller, on one page', async () => {
    const me = await signUp('Alone');
    await signUp('Someone');
    for (const request of [{}, { pageSize: 1 }, { pageSize: 1000 }]) {
      const { users: listed, nextPageToken } = await users.getAll(request, bearer(me.token));
      assert.deepEqual(
        listed.map((user) => [user.id, user.password]),
        [[me.id, '']],
      );
      assert.equal(nextPageToken, '');
    }
    await rejectsWith(
      users.getAll({ pageSize: -1 }, bearer(me.token)),
      Code.InvalidArgument,
      /^page_size .*got -1/,
    );
    await rejectsWith(
      users.getAll({ pageToken: 'bm90LWEtdG9rZW4' }, bearer(me.token)),
      Code.InvalidArgument,
      /^page_token /,
    );
  });
});

describe('tokens', () => {
  const complete = { sub: 'someone', iat: 0, exp: 60, jti: 'token-1' };

  it('accepts a token of ours with sub, iat, exp and jti', async () => {
    assert.equal((await users.validateToken({ token: await signed(complete) })).userId, 'someone');
  });

  for (const claim of ['sub', 'iat', 'exp', 'jti'] as const) {
    it(`refuses a token without ${claim}, on ValidateToken and on Get`, async () => {
      const token = await signed({ ...complete, [claim]: undefined });
      await rejectsWith(users.validateToken({ token }), Code.Unauthenticated, invalidToken);
      await rejectsWith(users.get({ id: 'someone' }, bearer(token)), Code.Unauthenticated, invalidToken);
    });
  }

  it('refuses expired, future, foreign, malformed and oversized tokens', async () => {
    const foreignKey = await new SignJWT({ jti: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('someone')
      .setIssuer('shippy.user')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(`${testJwtSecret}x`));
    for (const token of [
      await signed({ ...complete, iat: -120, exp: -60 }),
      await signed({ ...complete, iat: 3600, exp: 7200 }),
      await signed({ ...complete, iat: -2 * 86400, exp: 60 }),
      await signed({ ...complete, sub: '' }),
      await signed({ ...complete, iss: 'someone.else' }),
      foreignKey,
      '',
      'not-a-jwt',
      `${await signed(complete)}${'x'.repeat(4096)}`,
    ]) {
      await rejectsWith(users.validateToken({ token }), Code.Unauthenticated, invalidToken);
    }
  });
});

describe('logout', () => {
  const revokedRows = async (jti?: string) =>
    Number(
      (
        await pglite.pool.query(
          `SELECT count(*) AS n FROM "user".revoked_tokens${jti === undefined ? '' : ' WHERE jti = $1'}`,
          jti === undefined ? [] : [jti],
        )
      ).rows[0].n,
    );

  it('revokes the token on every replica, and only that token', async () => {
    const { id, email, token } = await signUp('Leaving');
    const { token: otherSession } = await users.auth({ email, password });
    assert.equal((await otherReplica.validateToken({ token })).userId, id);
    await users.logout({ token });
    await rejectsWith(otherReplica.validateToken({ token }), Code.Unauthenticated, invalidToken);
    await rejectsWith(users.validateToken({ token }), Code.Unauthenticated, invalidToken);
    await rejectsWith(otherReplica.get({ id }, bearer(token)), Code.Unauthenticated, invalidToken);
    assert.equal((await otherReplica.get({ id }, bearer(otherSession))).user?.id, id);
    // Again, on the other replica: nothing left to do, and not an error.
    await otherReplica.logout({ token });
    const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti as string;
    assert.equal(await revokedRows(jti), 1);
  });

  it('stores nothing for a token that does not verify', async () => {
    const before = await revokedRows();
    for (const token of ['', 'not-a-jwt', await signed({ sub: 'x', iat: -120, exp: -60, jti: 'expired' })]) {
      await users.logout({ token });
    }
    assert.equal(await revokedRows(), before);
  });

  it('prunes revocations whose tokens have expired', async () => {
    await pglite.pool.query(
      `INSERT INTO "user".revoked_tokens (jti, expires_at) VALUES ('long-expired', now() - interval '1 hour')`,
    );
    const { token } = await signUp('Pruner');
    await otherReplica.logout({ token });
    assert.equal(await revokedRows('long-expired'), 0);
  });
});

describe('input limits', () => {
  const valid = { name: 'Limits', company: 'Shippy Ltd', password };
  let n = 0;
  const fresh = () => `limits.${++n}@example.com`;
  const create = (fields: Partial<typeof valid & { email: string }>) =>
    users.create({ ...valid, email: fresh(), ...fields });

  it('name: required, at most 100 characters, no control characters', async () => {
    for (const name of ['', '   ']) {
      await rejectsWith(create({ name }), Code.InvalidArgument, /^name is required/);
    }
    await rejectsWith(
      create({ name: 'n'.repeat(101) }),
      Code.InvalidArgument,
      /^name must be at most 100 characters \(got 101\)$/,
    );
    await rejectsWith(
      create({ name: 'Eve\r\nBcc: x@y.com' }),
      Code.InvalidArgument,
      /^name must not contain/,
    );
    assert.equal((await create({ name: ` ${'n'.repeat(100)} ` })).user?.name, 'n'.repeat(100));
    assert.equal((await create({ name: '🚢'.repeat(100) })).user?.name, '🚢'.repeat(100));
  });

  it('company: optional, at most 100 characters', async () => {
    await rejectsWith(
      create({ company: 'c'.repeat(101) }),
      Code.InvalidArgument,
      /^company must be at most 100 characters \(got 101\)$/,
    );
    await rejectsWith(create({ company: 'A\u0000B' }), Code.InvalidArgument, /^company must not contain/);
    assert.equal((await create({ company: '  ' })).user?.company, '');
    assert.equal((await create({ company: 'c'.repeat(100) })).user?.company, 'c'.repeat(100));
  });

  it('password: 8 to 200 characters, not blank', async () => {
    for (const bad of ['short12', 'p'.repeat(201)]) {
      await rejectsWith(
        create({ password: bad }),
        Code.InvalidArgument,
        /^password must be 8–200 characters$/,
      );
    }
    await rejectsWith(create({ password: ' '.repeat(12) }), Code.InvalidArgument, /^password is required$/);
    // Characters, not UTF-16 units: seven ships are 14 units, and too few.
    await rejectsWith(create({ password: '🚢'.repeat(7) }), Code.InvalidArgument, /^password must be 8–200/);
    for (const good of ['p'.repeat(8), 'p'.repeat(200), '🚢'.repeat(200)]) {
      const email = fresh();
      await create({ email, password: good });
      assert.ok((await users.auth({ email, password: good })).token);
    }
  });

  it('email: at most 254 characters', async () => {
    // 64 + 1 + 189 = 254: the longest local part and a domain of labels of 63 or fewer.
    const domain = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    const longest = `${'a'.repeat(64)}@${domain}`;
    assert.equal(longest.length, 254);
    assert.equal((await create({ email: longest })).user?.email, longest);
    await rejectsWith(
      create({ email: `x${longest}` }),
      Code.InvalidArgument,
      /^email must be at most 254 characters \(got 255\)$/,
    );
  });

  it('email: one plain address, parsed strictly', async () => {
    const refused: Array<[string, RegExp]> = [
      ['', /^email is required/],
      ['   ', /^email is required/],
      ['a,b@x.com', /^email must be one address .*comma/],
      ['a@x.com, b@x.com', /^email must be one address .*comma/],
      ['a@x.com;b@x.com', /^email must be one address .*semicolon/],
      ['"A" <a@x.com>', /^email must be a plain address .*display name/],
      ['"A"<a@x.com>', /^email must be a plain address .*display name/],
      ['<a@x.com>', /^email must be a plain address/],
      ['"a b"@x.com', /^email must be a plain address/],
      ['"ab"@x.com', /^email must be a plain address/],
      ['a(comment)@x.com', /^email must be a plain address/],
      ['a b@x.com', /^email must not contain spaces/],
      ['a@x.com\nb@y.com', /^email must not contain spaces/],
      ['ada', /^email must contain exactly one @/],
      ['a@b@x.com', /^email must contain exactly one @/],
      ['@x.com', /^email: the part before the @/],
      ['.a@x.com', /^email: the part before the @/],
      ['a.@x.com', /^email: the part before the @/],
      ['a..b@x.com', /^email: the part before the @/],
      [`${'a'.repeat(65)}@x.com`, /^email: the part before the @/],
      ['ä@x.com', /^email: the part before the @/],
      ['a@', /^email: the part after the @/],
      ['a@x', /^email: the part after the @/],
      ['a@x.', /^email: the part after the @/],
      ['a@x..com', /^email: the part after the @/],
      ['a@-x.com', /^email: the part after the @/],
      ['a@x_y.com', /^email: the part after the @/],
      ['a@127.0.0.1', /^email: the part after the @/],
      ['a@[127.0.0.1]', /^email: the part after the @/],
      [`a@${'x'.repeat(64)}.com`, /^email: the part after the @/],
    ];
    for (const [email, message] of refused) {
      await rejectsWith(create({ email }), Code.InvalidArgument, message);
    }
    const { rows } = await pglite.pool.query(
      `SELECT count(*) AS n FROM "user".users WHERE email LIKE '%x.com%'`,
    );
    assert.equal(Number(rows[0].n), 0, 'none of them was stored');
  });

  it('email: surrounding whitespace is trimmed, so the same address cannot register twice', async () => {
    assert.equal((await create({ email: 'a@x.com ' })).user?.email, 'a@x.com');
    await rejectsWith(create({ email: '\ta@X.com' }), Code.AlreadyExists, /^an account with this email/);
    const accepted = ["o'brien+ship@mail.example.co.uk", 'first.last@x-y.example', 'a!#$%&*/=?^_`{|}~-@x.io'];
    for (const email of accepted) {
      assert.equal((await create({ email })).user?.email, email);
    }
    const { rows } = await pglite.pool.query(
      `SELECT count(*) AS n FROM "user".users WHERE email = 'a@x.com'`,
    );
    assert.equal(Number(rows[0].n), 1);
  });
});
