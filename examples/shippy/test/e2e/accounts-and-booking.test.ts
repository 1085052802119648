/**
 * shippy end to end: accounts and booking.
 * A shippy of this file's own, started as `npm start` starts it (`node src/cli/main.ts
 * run examples/shippy`, with a throwaway BERTH_DATA_DIR and a free gateway port), and
 * driven only through the gateway's `POST /rpc` (the helpers: support.ts).
 *
 * Embedded by default (PGlite, direct broker). With DATABASE_URL and/or NATS_URL
 * in the environment (test/support/real-backends.sh prints them), the same file
 * runs against real PostgreSQL and NATS JetStream: `berth run` passes them on.
 *
 *   run 1 (dev, as npm start): the happy paths, concurrent bookings that never
 *          overbook a ship
 *   run 2 (same data dir, --env staging: vessel ×2, consignment ×2): the data is
 *          still there; SIGKILL of a vessel under a steady load of creates: the
 *          runner restarts it, and no consignment is lost or stored twice
 *
 * Bad input, welcome mails and Ctrl-C on a shippy of their own: resilience.test.ts.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { BerthRun } from '../../../../test/runner/berth-run.ts';
import { fileCleanup } from '../../../../test/support/cleanup.ts';
import { waitFor } from '../../../../test/support/wait.ts';
import {
  assertClientError,
  assertCtrlCStopsEverything,
  backends,
  call,
  emailOf,
  ok,
  password,
  type Rpc,
  runId,
  signUp,
  startShippy,
  threeContainers,
} from './support.ts';

const seededVessel = 'vessel001';

describe(`shippy accounts and booking (${backends})`, () => {
  const cleanup = fileCleanup();
  let run: BerthRun;
  let userCount = 0;
  let token = '';
  let consignmentId = '';

  const createUser = () => {
    userCount += 1;
    return signUp(run, userCount);
  };

  before(async () => {
    run = await startShippy(cleanup);
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

  test('Ctrl-C stops everything and exits 0', async () => {
    await assertCtrlCStopsEverything(run);
  });

  describe('restarted with --env staging (vessel ×2, consignment ×2)', () => {
    before(async () => {
      run = await startShippy(cleanup, { args: ['--env', 'staging'], dataDir: run.dataDir });
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
