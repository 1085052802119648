/**
 * Shared by the booking tests (vessel, consignment): the services a test file
 * needs, built and started in this process on one fresh PGlite and a
 * MemoryRegistry, called through typed clients as the services call each other;
 * and the helpers those tests use.
 */
import assert from 'node:assert/strict';
import type { Runtime, Service } from 'berth';
import { Code, ConnectError, MemoryRegistry } from 'berth';
import type { PgliteServer } from '../../../../test/broker/pglite-server.ts';
import type { Cleanup } from '../../../../test/support/cleanup.ts';
import { UserService } from '../../gen/shippy/user/v1/user_pb.js';
import { VesselService } from '../../gen/shippy/vessel/v1/vessel_pb.js';
import { createUserService } from '../../user/service.ts';
import {
  bearer,
  type Clients,
  clientsFor,
  serviceEnv,
  startInProcess,
  startPgliteServer,
  tempDataDir,
  testRuntime,
} from './support.ts';

export interface TestSystem {
  readonly pglite: PgliteServer;
  /** What the services were started with: start another replica with it. */
  readonly runtime: Runtime;
  readonly clients: Clients;
  /** A new account and its token. */
  signUp(name?: string): Promise<{ id: string; token: string }>;
  /** Takes every vessel out of service, so a test books only onto the vessels it creates next. */
  retireFleet(): Promise<void>;
  /** A new available vessel with this room, created by `token`'s user. */
  addVessel(token: string, capacity: number, maxWeight: number, name?: string): Promise<string>;
}

/** The user service and `builds` (vessel, consignment…), started together as `berth run` does. */
export async function startSystem(
  cleanup: Cleanup,
  builds: ReadonlyArray<(runtime: Runtime) => Promise<Service>>,
): Promise<TestSystem> {
  const pglite = await startPgliteServer();
  cleanup(() => pglite.stop());
  const registry = new MemoryRegistry();
  const runtime = testRuntime(registry, serviceEnv(pglite.url, await tempDataDir(cleanup)));
  await Promise.all([createUserService, ...builds].map((build) => startInProcess(build, runtime, cleanup)));
  const clients = await clientsFor(registry, cleanup);
  let users = 0;
  let vessels = 0;
  return {
    pglite,
    runtime,
    clients,
    async signUp(name = 'Ewan') {
      const email = `${name.toLowerCase()}.${++users}@example.com`;
      const { user, token } = await clients
        .client(UserService)
        .create({ name, company: 'Shippy Ltd', email, password: 'correct horse battery' });
      return { id: user!.id, token };
    },
    async retireFleet() {
      await pglite.pool.query('UPDATE vessel.vessels SET available = false');
    },
    async addVessel(token, capacity, maxWeight, name = `Vessel ${++vessels}`) {
      const { vessel } = await clients
        .client(VesselService)
        .create({ name, capacity, maxWeight, available: true }, bearer(token));
      return vessel!.id;
    },
  };
}

/** Asserts `promise` rejects with `code` and a message matching `message`; resolves with the message. */
export async function rejectsWith(promise: Promise<unknown>, code: Code, message: RegExp): Promise<string> {
  let rawMessage = '';
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    assert.equal(Code[error.code], Code[code], error.rawMessage);
    assert.match(error.rawMessage, message);
    rawMessage = error.rawMessage;
    return true;
  });
  return rawMessage;
}

/** The outcome of each of `calls`, run all at once: fulfilled values and Connect errors by code. */
export async function settleAll<T>(calls: ReadonlyArray<() => Promise<T>>) {
  const settled = await Promise.allSettled(calls.map((call) => call()));
  const fulfilled = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const rejected = settled.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  for (const error of rejected) assert.ok(error instanceof ConnectError, String(error));
  return { fulfilled, rejected: rejected as ConnectError[] };
}
