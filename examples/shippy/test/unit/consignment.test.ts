/**
 * The consignment service with vessel and user on one PGlite: every call signed
 * in, input limits, booking through VesselService.Reserve (room used up, never
 * overbooked by concurrent creates, given back when storing fails), idempotent
 * retries and paged, newest-first lists.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Code, type TypedClient } from 'berth';
import { createConsignmentService } from '../../consignment/service.ts';
import { ConsignmentService } from '../../gen/shippy/consignment/v1/consignment_pb.js';
import { VesselService } from '../../gen/shippy/vessel/v1/vessel_pb.js';
import { createVesselService } from '../../vessel/service.ts';
import { bearer, fileCleanup } from './support.ts';
import { rejectsWith, settleAll, startSystem, type TestSystem } from './system.ts';

const cleanup = fileCleanup();
let system: TestSystem;
let consignments: TypedClient<typeof ConsignmentService>;

before(async () => {
  system = await startSystem(cleanup, [createVesselService, createConsignmentService]);
  consignments = system.clients.client(ConsignmentService);
});

const containers = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    customerId: `customer-${i}`,
    origin: 'Manchester, United Kingdom',
  }));

async function used(vesselId: string): Promise<[number, number]> {
  const { vessels } = await system.clients.client(VesselService).list({ pageSize: 100 });
  const vessel = vessels.find((v) => v.id === vesselId);
  assert.ok(vessel, `vessel ${vesselId} is listed`);
  return [vessel.usedCapacity, vessel.usedWeight];
}

describe('consignment', () => {
  it('requires a valid bearer token on every call', async () => {
    const { token } = await system.signUp();
    const request = { description: 'x', weight: 10, containers: containers(1) };
    await rejectsWith(consignments.get({}), Code.Unauthenticated, /missing Authorization: Bearer/);
    await rejectsWith(consignments.create(request), Code.Unauthenticated, /missing Authorization: Bearer/);
    await rejectsWith(
      consignments.create(request, { headers: { authorization: `Token ${token}` } }),
      Code.Unauthenticated,
      /missing Authorization: Bearer/,
    );
    await rejectsWith(
      consignments.get({}, bearer('forged.token.value')),
      Code.Unauthenticated,
      /^invalid or expired token$/,
    );
    // The scheme is case-insensitive, as headers are.
    assert.deepEqual(
      (await consignments.get({}, { headers: { Authorization: `bearer ${token}` } })).consignments,
      [],
    );
  });

  it('refuses every value out of its limits, naming the field', async () => {
    const { token } = await system.signUp();
    const valid = { description: 'tea', weight: 5, containers: containers(1) };
    const one = (change: object) => [{ ...containers(1)[0], ...change }];
    const refused: Array<[Partial<typeof valid> & { id?: string }, RegExp]> = [
      [{ description: ' ' }, /^description is required/],
      [{ description: 'x'.repeat(501) }, /^description must be at most 500 characters \(got 501\)/],
      [{ weight: 0 }, /^weight must be between 1 and 1,000,000,000 kg \(got 0\)/],
      [{ weight: 1_000_000_001 }, /^weight .*got 1,000,000,001/],
      [{ containers: [] }, /^containers must not be empty/],
      [{ containers: containers(1001) }, /^containers: at most 1000 per consignment \(got 1001\)/],
      [{ containers: one({ customerId: '' }) }, /^containers\[0\]\.customer_id is required/],
      [
        { containers: one({ customerId: 'c'.repeat(101) }) },
        /^containers\[0\]\.customer_id must be at most 100/,
      ],
      [{ containers: one({ origin: '\t' }) }, /^containers\[0\]\.origin is required/],
      [{ containers: one({ origin: 'o'.repeat(101) }) }, /^containers\[0\]\.origin must be at most 100/],
      [{ id: 'x'.repeat(129) }, /^id must be at most 128 characters/],
    ];
    for (const [change, message] of refused) {
      await rejectsWith(
        consignments.create({ ...valid, ...change }, bearer(token)),
        Code.InvalidArgument,
        message,
      );
    }
  });

  it("books room on a vessel, stores the consignment, and lists only the caller's", async () => {
    const owner = await system.signUp('Owner');
    const other = await system.signUp('Other');
    const before = await used('vessel001');
    const bookedAt = Date.now();
    const created = await consignments.create(
      { description: ' This is a test consignment ', weight: 55000, containers: containers(3) },
      bearer(owner.token),
    );
    assert.equal(created.created, true);
    const consignment = created.consignment!;
    assert.equal(consignment.vesselId, 'vessel001');
    assert.equal(consignment.vesselName, "Kane's Salty Secret");
    assert.equal(consignment.userId, owner.id);
    assert.equal(consignment.description, 'This is a test consignment');
    assert.match(consignment.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(Date.parse(consignment.createdAt) >= bookedAt - 1000);
    assert.deepEqual(await used('vessel001'), [before[0] + 3, before[1] + 55000]);
    const { consignments: listed } = await consignments.get({}, bearer(owner.token));
    assert.deepEqual(listed, [consignment]);
    assert.deepEqual(
      listed[0]!.containers.map((c) => c.customerId),
      ['customer-0', 'customer-1', 'customer-2'],
    );
    assert.deepEqual((await consignments.get({}, bearer(other.token))).consignments, []);
  });

  it('fails with FailedPrecondition naming the most room when no vessel has enough', async () => {
    const { token } = await system.signUp();
    await system.retireFleet();
    await system.addVessel(token, 500, 200_000);
    const load = { description: 'heavy', weight: 190_000, containers: containers(1) };
    await consignments.create(load, bearer(token));
    await rejectsWith(
      consignments.create(load, bearer(token)),
      Code.FailedPrecondition,
      /^no ship has room for 1 container and 190,000 kg; the most room on one ship is 499 containers and 10,000 kg\. Add a vessel or split the consignment$/,
    );
  });

  it('stores and books a retried create once, and keeps an id to its owner', async () => {
    const owner = await system.signUp('Retry');
    await system.retireFleet();
    const ship = await system.addVessel(owner.token, 10, 1000);
    const request = { id: 'client-chosen-id', description: 'retried', weight: 10, containers: containers(2) };
    const first = await consignments.create(request, bearer(owner.token));
    const again = await consignments.create(request, bearer(owner.token));
    assert.deepEqual(again.consignment, first.consignment);
    assert.equal((await consignments.get({}, bearer(owner.token))).consignments.length, 1);
    assert.deepEqual(await used(ship), [2, 10]);
    const { token } = await system.signUp('Thief');
    await rejectsWith(consignments.create(request, bearer(token)), Code.AlreadyExists, /client-chosen-id/);
    assert.deepEqual(await used(ship), [2, 10]);
  });

  it('gives the room back when storing the consignment fails', async () => {
    const { token } = await system.signUp();
    await system.retireFleet();
    const ship = await system.addVessel(token, 1, 1000);
    // PostgreSQL refuses a NUL character in text: the booking succeeds, storing it fails.
    await rejectsWith(
      consignments.create(
        { description: 'tea\u0000', weight: 1000, containers: containers(1) },
        bearer(token),
      ),
      Code.InvalidArgument,
      /NUL/,
    );
    assert.deepEqual(await used(ship), [0, 0]);
    const stored = await consignments.create(
      { description: 'tea', weight: 1000, containers: containers(1) },
      bearer(token),
    );
    assert.equal(stored.consignment?.vesselId, ship);
  });

  it('20 concurrent creates for a ship with room for 5: exactly 5 stored', async () => {
    const { token } = await system.signUp('Rush');
    await system.retireFleet();
    const ship = await system.addVessel(token, 5, 1_000_000);
    const { fulfilled, rejected } = await settleAll(
      Array.from(
        { length: 20 },
        (_, i) => () =>
          consignments.create(
            { description: `rush ${i}`, weight: 100, containers: containers(1) },
            bearer(token),
          ),
      ),
    );
    assert.equal(fulfilled.length, 5);
    assert.deepEqual(new Set(rejected.map((error) => Code[error.code])), new Set(['FailedPrecondition']));
    assert.deepEqual(await used(ship), [5, 500]);
    const { consignments: listed } = await consignments.get({}, bearer(token));
    assert.deepEqual(
      listed.map((c) => c.id).sort(),
      fulfilled.map((created) => created.consignment!.id).sort(),
    );
  });

  it('pages the caller’s consignments newest first', async () => {
    const { token } = await system.signUp('Pager');
    await system.retireFleet();
    await system.addVessel(token, 100, 1000);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const { consignment } = await consignments.create(
        { description: `page ${i}`, weight: 1, containers: containers(1) },
        bearer(token),
      );
      ids.push(consignment!.id);
    }
    const first = await consignments.get({ pageSize: 2 }, bearer(token));
    assert.deepEqual(
      first.consignments.map((c) => c.id),
      [ids[4], ids[3]],
    );
    const second = await consignments.get({ pageSize: 2, pageToken: first.nextPageToken }, bearer(token));
    assert.deepEqual(
      second.consignments.map((c) => c.id),
      [ids[2], ids[1]],
    );
    const last = await consignments.get({ pageSize: 2, pageToken: second.nextPageToken }, bearer(token));
    assert.deepEqual(
      last.consignments.map((c) => c.id),
      [ids[0]],
    );
    assert.equal(last.nextPageToken, '');
    const exact = await consignments.get({ pageSize: 5 }, bearer(token));
    assert.deepEqual(
      [exact.consignments.length, exact.nextPageToken],
      [5, ''],
      'a full last page has no token',
    );
    assert.equal((await consignments.get({}, bearer(token))).consignments.length, 5);
    await rejectsWith(
      consignments.get({ pageToken: 'not-a-token' }, bearer(token)),
      Code.InvalidArgument,
      /^page_token is not one this list gave out/,
    );
    const vesselToken = (await system.clients.client(VesselService).list({ pageSize: 1 })).nextPageToken;
    await rejectsWith(
      consignments.get({ pageToken: vesselToken }, bearer(token)),
      Code.InvalidArgument,
      /^page_token/,
    );
  });
});
