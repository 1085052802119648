/**
 * shippy end to end: resilience.
 * A shippy of this file's own, started as `npm start` starts it (`node src/cli/main.ts
 * run examples/shippy`, with a throwaway BERTH_DATA_DIR and a free gateway port), and
 * driven only through the gateway's `POST /rpc` (the helpers: support.ts).
 *
 * Embedded by default (PGlite, direct broker). With DATABASE_URL and/or NATS_URL
 * in the environment (test/support/real-backends.sh prints them), the same file
 * runs against real PostgreSQL and NATS JetStream: `berth run` passes them on.
 *
 *   one run (dev, as npm start): bad input to every method, welcome mails, also
 *          for users created while the email service was stopped (`berth stop
 *          email` … `berth start email`, the runner's control endpoint), Ctrl-C
 *
 * The happy paths, bookings and a restart with --env staging: accounts-and-booking.test.ts.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type BerthRun, berth, rpc } from '../../../../test/runner/berth-run.ts';
import { fileCleanup } from '../../../../test/support/cleanup.ts';
import { waitFor } from '../../../../test/support/wait.ts';
import {
  assertClientError,
  assertCtrlCStopsEverything,
  backends,
  call,
  emailOf,
  mailsTo,
  password,
  signUp,
  startShippy,
  threeContainers,
} from './support.ts';

describe(`shippy resilience (${backends})`, () => {
  const cleanup = fileCleanup();
  let run: BerthRun;
  let userCount = 0;

  const createUser = () => {
    userCount += 1;
    return signUp(run, userCount);
  };

  before(async () => {
    run = await startShippy(cleanup);
  });

  test('bad input to every method is a clear 4xx, and no process dies', async () => {
    // A signed-in caller, for the methods that need one: the first user of this run.
    const { token } = await createUser();
    const pidsBefore = run.state().processes.map((p) => p.pid);
    const many = Array.from({ length: 10_000 }, () => threeContainers[0]);
    const cases: Array<[string, string, unknown, number | 'any 4xx', string?]> = [
      ['vessel', 'VesselService.Create', { capacity: 10, max_weight: 10 }, 400, token],
      ['vessel', 'VesselService.Create', { name: 'x', capacity: -1, max_weight: 10 }, 400, token],
      ['vessel', 'VesselService.Create', { name: 'x', capacity: 'lots', max_weight: 10 }, 400, token],
      ['vessel', 'VesselService.Create', { name: 'x'.repeat(101), capacity: 1, max_weight: 10 }, 400, token],
      ['vessel', 'VesselService.Create', { name: 'x', capacity: 1, max_weight: 10 }, 401, 'not-a-token'],
      ['vessel', 'VesselService.FindAvailable', { capacity: -5, max_weight: 10 }, 400],
      // More than any ship can carry (max_weight is at most 1,000,000,000 kg): none of the ships
      // accounts-and-booking.test.ts leaves in a shared real database has room for it either.
      ['vessel', 'VesselService.FindAvailable', { capacity: 1, max_weight: 1_000_000_001 }, 404],
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
    await assertCtrlCStopsEverything(run);
  });
});
