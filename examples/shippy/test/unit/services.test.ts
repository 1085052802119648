/**
 * Configuration of the shippy services, and user → email (the welcome mail) built
 * and started in this process, on one PGlite served over the wire protocol and a
 * MemoryRegistry. Each service's own calls: users.test.ts, vessel.test.ts,
 * consignment.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ConfigError, MemoryRegistry } from 'berth';
import { DirectBroker } from 'berth/broker/direct';
import type { PgliteServer } from '../../../../test/broker/pglite-server.ts';
import { createEmailService } from '../../email/service.ts';
import { UserService } from '../../gen/shippy/user/v1/user_pb.js';
import { createUserService } from '../../user/service.ts';
import { loadSigningKey } from '../../user/tokens.ts';
import { createVesselService } from '../../vessel/service.ts';
import {
  type Clients,
  clientsFor,
  fileCleanup,
  serviceEnv,
  startInProcess,
  startPgliteServer,
  tempDataDir,
  testRuntime,
  waitFor,
} from './support.ts';

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
    [createUserService, createEmailService].map((build) => startInProcess(build, runtime, cleanup)),
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
