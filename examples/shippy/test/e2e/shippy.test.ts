/**
 * shippy end to end, started as `npm start` starts it (`node src/cli/main.ts run
 * examples/shippy`, with a throwaway BERTH_DATA_DIR and a free gateway port), and
 * driven only through the gateway's `POST /rpc`.
 *
 * Embedded by default (PGlite, direct broker). With DATABASE_URL and/or NATS_URL
 * in the environment (test/support/real-backends.sh prints them), the same suite
 * runs against real PostgreSQL and NATS JetStream: `berth run` passes them on.
 *
 *   run 1 (dev, as npm start): the happy paths, concurrent bookings that never
 *          overbook a ship, bad input to every method, welcome
 *          mails, also for users created while the email service was stopped
 *          (`berth stop email` … `berth start email`, the runner's control endpoint)
 *   run 2 (same data dir, --env staging: vessel ×2, consignment ×2): the data is
 *          still there; SIGKILL of a vessel under a steady load of creates: the
 *          runner restarts it, and no consignment is lost or stored twice
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { BerthRun, berth, isAlive, rpc } from '../../../../test/runner/berth-run.ts';
import { fileCleanup } from '../../../../test/support/cleanup.ts';
import { waitFor } from '../../../../test/support/wait.ts';

const backends = [
  process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite',
  process.env.NATS_URL ? 'NATS JetStream' : 'direct broker',
].join(' + ');
/** Unique per suite run: a real database keeps the users of earlier runs. */
const runId = randomBytes(4).toString('hex');
const password = 'correct horse battery';
const seededVessel = 'vessel001';
const threeContainers = Array.from({ length: 3 }, (_, i) => ({
  customer_id: `customer-${i}`,
  origin: 'Rotterdam',
  user_id: `customer-${i}`,
}));

type Rpc = Awaited<ReturnType<typeof rpc>>;

const call = (run: BerthRun, service: string, method: string, request: unknown, token?: string) =>
  rpc(
    run.gateway,
    { service, method, request },
    token === undefined ? {} : { authorization: `Bearer ${token}` },
  );

function ok(response: Rpc): Record<string, unknown> {
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

/** A clear client error: 4xx, micro's error shape, a message, no stack trace. */
function assertClientError(response: Rpc, status: number | 'any 4xx', what: string): void {
  const { body } = response;
  if (status === 'any 4xx')
    assert.ok(response.status >= 400 && response.status < 500, `${what}: ${response.status}`);
  else assert.equal(response.status, status, `${what}: ${JSON.stringify(body)}`);
  assert.equal(body.code, response.status, `${what}: ${JSON.stringify(body)}`);
  assert.equal(typeof body.detail, 'string', what);
  assert.ok((body.detail as string).length > 0, what);
  assert.doesNotMatch(body.detail as string, /\n\s+at /, `${what}: a stack trace`);
}

const emailOf = (n: number) => `e2e-${runId}-u${String(n).padStart(3, '0')}@shippy.test`;

/** How many welcome mails (.eml) in the outbox are addressed to `email`. */
function mailsTo(dataDir: string, email: string): number {
  let files: string[];
  try {
    files = readdirSync(join(dataDir, 'email', 'outbox')).filter((name) => name.endsWith('.eml'));
  } catch {
    return 0;
  }
  return files.filter((file) =>
    /^To: .*$/m.exec(readFileSync(join(dataDir, 'email', 'outbox', file), 'utf8'))?.[0].includes(email),
  ).length;
}

describe(`shippy end to end (${backends})`, () => {
  const cleanup = fileCleanup();
  let run: BerthRun;
  let userCount = 0;
  let token = '';
  let consignmentId = '';

  const createUser = async (): Promise<{ email: string; token: string }> => {
    userCount += 1;
    const email = emailOf(userCount);
    const body = ok(
      await call(run, 'user', 'UserService.Create', {
        name: `User ${userCount}`,
        company: 'Shippy E2E',
        email,
        password,
      }),
    );
    assert.equal(typeof body.token, 'string');
    assert.equal((body.user as Record<string, unknown>).password ?? '', '', 'the password is never returned');
    return { email, token: body.token as string };
  };

  before(async () => {
    run = await BerthRun.start({ target: 'examples/shippy', cleanup, readyTimeoutMs: 180_000 });
  });

  test('vessel Create needs a token and takes the owner from it', async () => {
    const request = { name: 'test', capacity: 200, max_weight: 100000, available: true, owner_id: 'someone' };
    assertClientError(
      await call(run, 'vessel', 'VesselService.Create', request),
      401,
      'Create without a token',
    );
    const owner = await createUser();
    const body = ok(await call(run, 'vessel', 'VesselService.Create', request, owner.token));
    assert.equal(body.created, true);
    const vessel = body.vessel as Record<string, unknown>;
    assert.equal(vessel.name, 'test');
    const { user_id } = ok(await call(run, 'user', 'UserService.ValidateToken', { token: owner.token }));
    assert.equal(vessel.owner_id, user_id);
  });

  test('user Create gives a token; Auth with the right password too, a wrong one is 401', async () => {
    const user = await createUser();
    assert.ok(user.token.length > 0);
    const auth = ok(await call(run, 'user', 'UserService.Auth', { email: user.email, password }));
    assert.equal(typeof auth.token, 'string');
    token = auth.token as string;
    assertClientError(
      await call(run, 'user', 'UserService.Auth', { email: user.email, password: 'wrong password' }),
      401,
      'wrong password',
    );
  });

  test('user Get and GetAll need a token and show only the caller; a second sign-up names no email', async () => {
    const user = await createUser();
    const userId = ok(await call(run, 'user', 'UserService.ValidateToken', { token: user.token })).user_id;
    const got = ok(await call(run, 'user', 'UserService.Get', { id: userId }, user.token));
    assert.equal((got.user as Record<string, unknown>).email, user.email);
    const all = ok(await call(run, 'user', 'UserService.GetAll', {}, user.token));
    assert.deepEqual(
      (all.users as Array<Record<string, unknown>>).map((u) => u.email),
      [user.email],
    );
    assertClientError(await call(run, 'user', 'UserService.Get', { id: userId }), 401, 'Get without a token');
    assertClientError(await call(run, 'user', 'UserService.GetAll', {}), 401, 'GetAll without a token');
    assertClientError(await call(run, 'user', 'UserService.Get', { id: userId }, token), 404, "another's id");
    const again = await call(run, 'user', 'UserService.Create', {
      name: 'Again',
      email: user.email,
      password,
    });
    assertClientError(again, 409, 'the same email twice');
    assert.doesNotMatch(again.body.detail as string, /@/);
  });

  test('Logout revokes that token for every service; another session stays signed in', async () => {
    const user = await createUser();
    const other = ok(await call(run, 'user', 'UserService.Auth', { email: user.email, password }))
      .token as string;
    ok(await call(run, 'consignment', 'ConsignmentService.Get', {}, user.token));
    ok(await call(run, 'user', 'UserService.Logout', { token: user.token }));
    assertClientError(
      await call(run, 'consignment', 'ConsignmentService.Get', {}, user.token),
      401,
      'a logged-out token',
    );
    assertClientError(
      await call(run, 'user', 'UserService.GetAll', {}, user.token),
      401,
      'a logged-out token',
    );
    ok(await call(run, 'consignment', 'ConsignmentService.Get', {}, other));
  });

  test('consignment Create with a token is carried by the seeded vessel; without one it is 401', async () => {
    const created = ok(
      await call(
        run,
        'consignment',
        'ConsignmentService.Create',
        { description: 'e2e cargo', weight: 55000, containers: threeContainers },
        token,
      ),
    );
    assert.equal(created.created, true);
    const consignment = created.consignment as Record<string, unknown>;
    assert.equal(consignment.vessel_id, seededVessel);
    consignmentId = consignment.id as string;
    assertClientError(
      await call(run, 'consignment', 'ConsignmentService.Create', {
        description: 'no token',
        weight: 55000,
        containers: threeContainers,
      }),
      401,
      'create without a token',
    );
    const listed = ok(await call(run, 'consignment', 'ConsignmentService.Get', {}, token));
    const ids = (listed.consignments as Array<Record<string, unknown>>).map((c) => c.id);
    assert.deepEqual(ids, [consignmentId]);
  });

  test('20 concurrent creates for a ship with room for 5 of them: exactly 5 booked, the others 412', async () => {
    const owner = await createUser();
    // Each load is 190,000,000 kg: no other ship of this run can carry one.
    const ship = ok(
      await call(
        run,
        'vessel',
        'VesselService.Create',
        { name: `rush-${runId}`, capacity: 100, max_weight: 950_000_000, available: true },
        owner.token,
      ),
    ).vessel as Record<string, unknown>;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(
          run,
          'consignment',
          'ConsignmentService.Create',
          { description: `rush ${i}`, weight: 190_000_000, containers: threeContainers.slice(0, 1) },
          owner.token,
        ),
      ),
    );
    const booked = results.filter((response) => response.status === 200);
    assert.equal(booked.length, 5, results.map((response) => response.status).join(' '));
    for (const response of booked) {
      assert.equal((response.body.consignment as Record<string, unknown>).vessel_id, ship.id);
    }
    for (const response of results.filter((each) => each.status !== 200)) {
      assertClientError(response, 412, 'a create with no room left');
      assert.match(
        response.body.detail as string,
        /^no ship has room for 1 container and 190,000,000 kg; the most room on one ship is [\d,]+ containers and [\d,]+ kg\. Add a vessel or split the consignment$/,
      );
    }
    const listed = ok(await call(run, 'vessel', 'VesselService.List', { page_size: 100 }));
    const loaded = (listed.vessels as Array<Record<string, unknown>>).find((v) => v.id === ship.id);
    assert.deepEqual([loaded?.used_capacity, loaded?.used_weight], [5, 950_000_000]);
  });

  test('bad input to every method is a clear 4xx, and no process dies', async () => {
    const pidsBefore = run.state().processes.map((p) => p.pid);
    const many = Array.from({ length: 10_000 }, () => threeContainers[0]);
    const cases: Array<[string, string, unknown, number | 'any 4xx', string?]> = [
      ['vessel', 'VesselService.Create', { capacity: 10, max_weight: 10 }, 400, token],
      ['vessel', 'VesselService.Create', { name: 'x', capacity: -1, max_weight: 10 }, 400, token],
      ['vessel', 'VesselService.Create', { name: 'x', capacity: 'lots', max_weight: 10 }, 400, token],
      ['vessel', 'VesselService.Create', { name: 'x'.repeat(101), capacity: 1, max_weight: 10 }, 400, token],
      ['vessel', 'VesselService.Create', { name: 'x', capacity: 1, max_weight: 10 }, 401, 'not-a-token'],
      ['vessel', 'VesselService.FindAvailable', { capacity: -5, max_weight: 10 }, 400],
      ['vessel', 'VesselService.FindAvailable', { capacity: 1, max_weight: 1_000_000_000 }, 404],
      ['vessel', 'VesselService.List', { nope: true }, 400],
      ['vessel', 'VesselService.List', { page_token: 'not-a-token' }, 400],
      ['vessel', 'VesselService.Reserve', { consignment_id: 'c', containers: 1, weight: 1 }, 401],
      ['vessel', 'VesselService.Release', { consignment_id: 'c' }, 401],
      ['user', 'UserService.Create', { name: 'No Email', password }, 400],
      ['user', 'UserService.Create', { name: 'Short', email: emailOf(999), password: 'x' }, 400],
      ['user', 'UserService.Auth', {}, 'any 4xx'],
      ['user', 'UserService.ValidateToken', { token: 'not-a-jwt' }, 'any 4xx'],
      ['user', 'UserService.Create', { name: 'Two', email: `a,${emailOf(998)}`, password }, 400],
      ['user', 'UserService.Get', {}, 401],
      ['user', 'UserService.Get', {}, 400, token],
      ['user', 'UserService.GetAll', { page: 'two' }, 400],
      ['consignment', 'ConsignmentService.Create', { weight: -1, containers: threeContainers }, 400, token],
      ['consignment', 'ConsignmentService.Create', { weight: 10, containers: [] }, 400, token],
      ['consignment', 'ConsignmentService.Create', { weight: 10, containers: many }, 400, token],
      ['consignment', 'ConsignmentService.Create', { weight: 10 }, 400, token],
      [
        'consignment',
        'ConsignmentService.Create',
        { description: ' ', weight: 10, containers: threeContainers },
        400,
        token,
      ],
      ['consignment', 'ConsignmentService.Get', { page_size: -1 }, 400, token],
      ['consignment', 'ConsignmentService.Get', {}, 401, 'not-a-token'],
    ];
    for (const [service, method, request, status, auth] of cases) {
      assertClientError(
        await call(run, service, method, request, auth),
        status,
        `${method} ${JSON.stringify(request).slice(0, 80)}`,
      );
    }
    assertClientError(await rpc(run.gateway, '{"service": "vessel", '), 400, 'non-JSON body');
    assertClientError(await rpc(run.gateway, '[1, 2]'), 400, 'JSON that is not a request');
    assertClientError(await call(run, 'nope', 'Nope.Create', {}), 404, 'unknown service');
    assertClientError(await call(run, 'vessel', 'VesselService.Sink', {}), 404, 'unknown method');
    assertClientError(
      await rpc(run.gateway, {
        service: 'vessel',
        method: 'VesselService.Create',
        request: { name: 'x'.repeat(2 ** 21) },
      }),
      413,
      'a body over the limit',
    );
    const state = run.state();
    assert.deepEqual(
      state.processes.filter((p) => p.restarts > 0 || p.status !== 'ready').map((p) => p.instance),
      [],
    );
    assert.deepEqual(
      state.processes.map((p) => p.pid),
      pidsBefore,
    );
    assert.doesNotMatch(run.output, /exited \(/);
  });

  test('each new user gets exactly one welcome mail, also when email was stopped meanwhile', async () => {
    const first = await createUser();
    await waitFor(() => mailsTo(run.dataDir, emailOf(1)) === 1 && mailsTo(run.dataDir, first.email) === 1, {
      timeoutMs: 30_000,
      what: 'welcome mails for the first users',
    });

    const env = { BERTH_DATA_DIR: run.dataDir };
    const stopped = await berth(['stop', 'email'], env);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.deepEqual(run.pids('email'), []);
    const whileStopped = [await createUser(), await createUser()];
    // Nothing can have written them: no email process runs.
    for (const user of whileStopped) assert.equal(mailsTo(run.dataDir, user.email), 0);

    const started = await berth(['start', 'email'], env);
    assert.equal(started.code, 0, started.stderr);
    await waitFor(() => whileStopped.every((user) => mailsTo(run.dataDir, user.email) === 1), {
      timeoutMs: 60_000,
      what: 'the welcome mails held while email was stopped',
    });
    for (let n = 1; n <= userCount; n += 1) assert.equal(mailsTo(run.dataDir, emailOf(n)), 1, emailOf(n));
    assert.deepEqual(
      run
        .state()
        .processes.filter((p) => p.restarts > 0)
        .map((p) => p.instance),
      [],
      'stopping a service is not a crash',
    );
  });

  test('Ctrl-C stops everything and exits 0', async () => {
    const pids = run.state().processes.flatMap((p) => p.pid ?? []);
    assert.deepEqual(await run.stop('SIGINT'), { code: 0, signal: null });
    assert.deepEqual(pids.filter(isAlive), []);
  });

  describe('restarted with --env staging (vessel ×2, consignment ×2)', () => {
    before(async () => {
      run = await BerthRun.start({
        target: 'examples/shippy',
        args: ['--env', 'staging'],
        dataDir: run.dataDir,
        cleanup,
        readyTimeoutMs: 180_000,
      });
    });

    test('the data is still there', async () => {
      assert.equal(run.pids('vessel').length, 2);
      const auth = ok(await call(run, 'user', 'UserService.Auth', { email: emailOf(1), password }));
      assert.equal(typeof auth.token, 'string');
      // The token of the first run still works: the signing key persisted too.
      const listed = ok(await call(run, 'consignment', 'ConsignmentService.Get', {}, token));
      assert.deepEqual(
        (listed.consignments as Array<Record<string, unknown>>).map((c) => c.id),
        [consignmentId],
      );
      const vessels = ok(await call(run, 'vessel', 'VesselService.List', {}));
      const names = (vessels.vessels as Array<Record<string, unknown>>).map((v) => v.name);
      assert.ok(names.includes('test') && names.includes("Kane's Salty Secret"), names.join(', '));
    });

    test('SIGKILL of a vessel under load: restarted, and no consignment lost or stored twice', async (t) => {
      const user = await createUser();
      // Room for every create of the load (1,000 kg each): the ships so far fill up after a few hundred.
      ok(
        await call(
          run,
          'vessel',
          'VesselService.Create',
          { name: `load-${runId}`, capacity: 100_000, max_weight: 1_000_000_000, available: true },
          user.token,
        ),
      );
      const succeeded = new Set<string>();
      /** Errors the client saw (and retried), by status and message. */
      const errors = new Map<string, number>();
      let stop = false;
      let next = 0;
      const create = async (id: string) => {
        // A failure the client saw is retried with the same id: the service stores it once.
        for (let attempt = 1; ; attempt += 1) {
          const response = await call(
            run,
            'consignment',
            'ConsignmentService.Create',
            { id, description: `load ${id}`, weight: 1000, containers: threeContainers.slice(0, 1) },
            user.token,
          ).catch((error: Error): Rpc => ({ status: 0, body: { detail: error.message } }));
          if (response.status === 200) {
            assert.equal((response.body.consignment as Record<string, unknown>).id, id);
            succeeded.add(id);
            return;
          }
          assert.ok(attempt < 20, `create ${id} kept failing: ${JSON.stringify(response.body)}`);
          const seen = `${response.status} ${String(response.body.detail).slice(0, 120)}`;
          errors.set(seen, (errors.get(seen) ?? 0) + 1);
        }
      };
      const worker = async () => {
        while (!stop) await create(`${runId}-load-${String(next++).padStart(5, '0')}`);
      };
      const workers = Array.from({ length: 4 }, worker);
      try {
        await waitFor(() => succeeded.size >= 20, { timeoutMs: 60_000, what: '20 creates before the kill' });
        const [victim] = run.pids('vessel');
        process.kill(victim!, 'SIGKILL');
        await run.waitForOutput(/vessel-\d exited \(signal SIGKILL\); restarting in/);
        await waitFor(() => run.pids('vessel').length === 2 && !run.pids('vessel').includes(victim!), {
          timeoutMs: 60_000,
          what: 'the killed vessel instance to be replaced',
        });
        const afterRestart = succeeded.size;
        await waitFor(() => succeeded.size >= afterRestart + 20, {
          timeoutMs: 60_000,
          what: '20 more creates after the restart',
        });
      } finally {
        stop = true;
        await Promise.all(workers);
      }
      const ids: string[] = [];
      // Every page, 100 at a time, following next_page_token to the last (empty) one.
      for (let page_token = ''; ; ) {
        const page = ok(
          await call(
            run,
            'consignment',
            'ConsignmentService.Get',
            { page_size: 100, page_token },
            user.token,
          ),
        );
        ids.push(...(page.consignments as Array<Record<string, unknown>>).map((c) => c.id as string));
        page_token = (page.next_page_token as string | undefined) ?? '';
        if (page_token === '') break;
      }
      assert.equal(new Set(ids).size, ids.length, 'a consignment stored twice');
      assert.deepEqual([...ids].sort(), [...succeeded].sort(), 'stored ≠ created');
      const restarted = run.state().processes.filter((p) => p.restarts > 0);
      assert.deepEqual(
        restarted.map((p) => [p.service, p.restarts]),
        [['vessel', 1]],
      );
      t.diagnostic(
        `${succeeded.size} creates; errors the client saw and retried: ${errors.size === 0 ? 'none' : ''}`,
      );
      for (const [error, count] of errors) t.diagnostic(`  ${count} × ${error}`);
    });

    test('Ctrl-C stops everything and exits 0', async () => {
      assert.deepEqual(await run.stop('SIGINT'), { code: 0, signal: null });
    });
  });
});
