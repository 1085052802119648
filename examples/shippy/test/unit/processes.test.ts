/**
 * user, vessel and consignment as real processes (their main.ts files), on a local
 * registry and one PGlite served over the wire, called through a Gateway the way
 * the web UI calls them: `/rpc` with an `Authorization` header. The email service
 * runs in this process on the same registry, so `user.created` crosses processes
 * (test/support's startServiceProcess would take its broker's registry entry, which
 * shares its pid, for the service).
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Gateway, LocalRegistry } from 'berth';
import {
  type ServiceProcess,
  startServiceProcess,
  tempRegistry,
} from '../../../../test/support/processes.ts';
import { createEmailService } from '../../email/service.ts';
import {
  fileCleanup,
  serviceEnv,
  startInProcess,
  startPgliteServer,
  tempDataDir,
  testRuntime,
  waitFor,
} from './support.ts';

const cleanup = fileCleanup();
const names = ['vessel', 'user', 'consignment'] as const;
const processes = new Map<string, ServiceProcess>();
let gatewayUrl: string;
let dataDir: string;

before(async () => {
  const pglite = await startPgliteServer();
  cleanup(() => pglite.stop());
  const { dir } = await tempRegistry(cleanup);
  dataDir = await tempDataDir(cleanup);
  const { JWT_SECRET: _, ...env } = serviceEnv(pglite.url, dataDir);
  // Empty means unset: whatever this machine exports, use the embedded broker, files for mail,
  // and a signing key the user service creates in the data dir.
  Object.assign(env, { NATS_URL: '', SMTP_URL: '', JWT_SECRET_FILE: '', LOG_LEVEL: 'debug' });
  const registry = new LocalRegistry({ dir });
  cleanup(() => registry.close());
  await startInProcess(createEmailService, testRuntime(registry, env), cleanup);
  const started = await Promise.all(
    names.map((name) =>
      startServiceProcess({
        entry: `examples/shippy/${name}/main.ts`,
        registryDir: dir,
        env,
        cleanup,
        // Generous: this machine's cores are shared with other builds.
        readyTimeoutMs: 60_000,
      }),
    ),
  );
  for (const [i, name] of names.entries()) processes.set(name, started[i]);
  const gateway = new Gateway({ registry, port: 0, knownServices: [...names] });
  cleanup(() => gateway.stop());
  const { port } = await gateway.start();
  gatewayUrl = `http://127.0.0.1:${port}`;
});

// biome-ignore lint/suspicious/noExplicitAny: gateway JSON, asserted field by field
type Json = any;

async function rpc(
  service: string,
  method: string,
  request: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${gatewayUrl}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ service, method, request }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

describe('shippy as processes behind a gateway', () => {
  const password = 'a password nobody logs';
  let token: string;

  it('signs a user up and mails them a welcome', async () => {
    const created = await rpc('user', 'UserService.Create', {
      name: 'Ewan',
      email: 'ewan@example.com',
      password,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.user.email, 'ewan@example.com');
    assert.equal(created.body.user.password, undefined);
    token = created.body.token;
    const outbox = join(dataDir, 'email', 'outbox');
    const mail = await waitFor(
      async () => (await readdir(outbox).catch(() => [])).find((file) => file.endsWith('.eml')),
      { what: 'the welcome mail', timeoutMs: 15_000 },
    );
    assert.match(await readFile(join(outbox, mail), 'utf8'), /^To: ewan@example\.com$/m);
    assert.equal((await stat(join(dataDir, 'user', 'jwt.key'))).mode & 0o777, 0o600);
  });

  it('creates and lists consignments for the bearer of a token (snake_case both ways)', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const created = await rpc(
      'shippy.consignment',
      'ConsignmentService.Create',
      { description: 'crates', weight: 1000, containers: [{ customer_id: 'c1', origin: 'Hull' }] },
      auth,
    );
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.consignment.vessel_id, 'vessel001');
    const listed = await rpc('consignment', 'ConsignmentService.Get', {}, auth);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.consignments.map((c: { id: string; vessel_name: string; containers: unknown[] }) => [
        c.id,
        c.vessel_name,
        c.containers.length,
      ]),
      [[created.body.consignment.id, "Kane's Salty Secret", 1]],
    );
  });

  it('answers errors with the HTTP status micro clients expect', async () => {
    const missing = await rpc('consignment', 'ConsignmentService.Get', {});
    assert.equal(missing.status, 401);
    assert.equal(missing.body.status, 'unauthenticated');
    const heavy = await rpc(
      'consignment',
      'ConsignmentService.Create',
      { description: 'lead', weight: 999_999_999, containers: [{ customer_id: 'c1', origin: 'Hull' }] },
      { authorization: `Bearer ${token}` },
    );
    assert.equal(heavy.status, 412);
    assert.match(
      heavy.body.detail,
      /^no ship has room for 1 container and 999,999,999 kg; the most room on one ship is 499 containers and 199,000 kg\./,
    );
    const wrong = await rpc('user', 'UserService.Auth', {
      email: 'ewan@example.com',
      password: 'not it at all',
    });
    assert.equal(wrong.status, 401);
  });

  it('stops gracefully on SIGTERM, never having logged a password or a token', async () => {
    for (const name of ['consignment', 'user', 'vessel']) {
      const process = processes.get(name)!;
      assert.deepEqual(await process.stop('SIGTERM'), { code: 0, signal: null }, process.output);
      assert.ok(!process.output.includes(password), `${name} logged a password`);
      assert.ok(!process.output.includes(token), `${name} logged a token`);
    }
  });
});
