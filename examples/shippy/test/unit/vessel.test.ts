/**
 * The vessel service with the user service (tokens) on one PGlite: creating
 * vessels (signed in, input limits), booking room (Reserve/Release: capacity and
 * weight used up, concurrent bookings never overbook, retries book once), and
 * paged lists.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Code, type TypedClient } from 'berth';
import { VesselService } from '../../gen/shippy/vessel/v1/vessel_pb.js';
import { createVesselService } from '../../vessel/service.ts';
import { bearer, fileCleanup, startInProcess } from './support.ts';
import { rejectsWith, settleAll, startSystem, type TestSystem } from './system.ts';

const cleanup = fileCleanup();
let system: TestSystem;
let vessels: TypedClient<typeof VesselService>;
let owner: { id: string; token: string };

before(async () => {
  system = await startSystem(cleanup, [createVesselService]);
  vessels = system.clients.client(VesselService);
  owner = await system.signUp('Owner');
});

/** The vessel `id` as List shows it. */
async function listed(id: string) {
  for (let pageToken = ''; ; ) {
    const page = await vessels.list({ pageSize: 100, pageToken });
    const vessel = page.vessels.find((v) => v.id === id);
    if (vessel) return vessel;
    assert.notEqual(page.nextPageToken, '', `vessel ${id} is not listed`);
    pageToken = page.nextPageToken;
  }
}

let consignments = 0;
const reserve = (containers: number, weight: number, consignmentId = `consignment-${++consignments}`) =>
  vessels.reserve({ consignmentId, containers, weight }, bearer(owner.token));

describe('creating vessels', () => {
  const valid = { name: 'Boaty', capacity: 10, maxWeight: 1000, available: true };

  it("is seeded with Kane's Salty Secret, nothing booked", async () => {
    const seed = await listed('vessel001');
    assert.deepEqual(
      [seed.name, seed.capacity, seed.maxWeight, seed.available, seed.usedCapacity, seed.usedWeight],
      ["Kane's Salty Secret", 500, 200000, true, 0, 0],
    );
  });

  it('needs a token, and takes the owner from it, not from the request', async () => {
    await rejectsWith(vessels.create(valid), Code.Unauthenticated, /missing Authorization: Bearer/);
    await rejectsWith(
      vessels.create(valid, bearer('forged.token.value')),
      Code.Unauthenticated,
      /^invalid or expired token$/,
    );
    const { vessel } = await vessels.create({ ...valid, ownerId: 'someone-else' }, bearer(owner.token));
    assert.equal(vessel?.ownerId, owner.id);
    assert.equal((await listed(vessel!.id)).ownerId, owner.id);
  });

  it('creates vessels with a trimmed name and a generated id, or with the id given, once', async () => {
    const created = await vessels.create({ ...valid, name: ' Small Fry ' }, bearer(owner.token));
    assert.equal(created.created, true);
    assert.equal(created.vessel?.name, 'Small Fry');
    assert.match(created.vessel?.id ?? '', /^[0-9a-f-]{36}$/);
    const given = { ...valid, id: 'vessel-given' };
    assert.equal((await vessels.create(given, bearer(owner.token))).vessel?.id, 'vessel-given');
    await rejectsWith(vessels.create(given, bearer(owner.token)), Code.AlreadyExists, /vessel-given/);
  });

  it('refuses every value out of its limits, naming the field', async () => {
    const refused: Array<[Partial<typeof valid> & { id?: string }, RegExp]> = [
      [{ name: '  ' }, /^name is required/],
      [{ name: 'x'.repeat(101) }, /^name must be at most 100 characters \(got 101\)/],
      [{ name: 'x'.repeat(900_000) }, /^name must be at most 100 characters \(got 900,000\)/],
      [{ capacity: 0 }, /^capacity must be between 1 and 100,000 containers \(got 0\)/],
      [{ capacity: 100_001 }, /^capacity .*got 100,001/],
      [{ maxWeight: -5 }, /^max_weight must be between 1 and 1,000,000,000 kg \(got -5\)/],
      [{ maxWeight: 1_000_000_001 }, /^max_weight .*got 1,000,000,001/],
      [{ id: 'x'.repeat(129) }, /^id must be at most 128 characters/],
    ];
    for (const [change, message] of refused) {
      await rejectsWith(
        vessels.create({ ...valid, ...change }, bearer(owner.token)),
        Code.InvalidArgument,
        message,
      );
    }
    // Exactly at the limits is fine; 100 characters of an astral script are 100, not 200.
    await vessels.create(
      { name: '🚢'.repeat(100), capacity: 100_000, maxWeight: 1_000_000_000, available: false },
      bearer(owner.token),
    );
  });
});

describe('booking room', () => {
  it('uses up capacity: containers booked count against it, and the next booking goes elsewhere', async () => {
    await system.retireFleet();
    const small = await system.addVessel(owner.token, 3, 1000);
    const next = await system.addVessel(owner.token, 10, 1000);
    assert.equal((await reserve(2, 10)).vessel?.id, small);
    const { vessel } = await reserve(1, 10);
    assert.deepEqual([vessel?.id, vessel?.usedCapacity, vessel?.usedWeight], [small, 3, 20]);
    assert.equal((await reserve(1, 10)).vessel?.id, next, 'the first vessel is full');
    const shown = await listed(small);
    assert.deepEqual([shown.usedCapacity, shown.usedWeight], [3, 20]);
  });

  it('uses up max weight: three loads of 190,000 kg do not go onto one 200,000 kg ship', async () => {
    await system.retireFleet();
    const ship = await system.addVessel(owner.token, 500, 200_000);
    assert.equal((await reserve(1, 190_000)).vessel?.id, ship);
    for (let i = 0; i < 2; i += 1) {
      await rejectsWith(
        reserve(1, 190_000),
        Code.FailedPrecondition,
        /^no ship has room for 1 container and 190,000 kg; the most room on one ship is 499 containers and 10,000 kg\. Add a vessel or split the consignment$/,
      );
    }
    const shown = await listed(ship);
    assert.deepEqual([shown.usedCapacity, shown.usedWeight], [1, 190_000]);
  });

  it('names the ship with the most room for what was asked, or says none is available', async () => {
    await system.retireFleet();
    await system.addVessel(owner.token, 100, 1000); // room for all containers, a tenth of the weight
    await system.addVessel(owner.token, 4, 8000); // room for most of both
    await rejectsWith(
      reserve(5, 10_000),
      Code.FailedPrecondition,
      /the most room on one ship is 4 containers and 8,000 kg\./,
    );
    await system.retireFleet();
    await rejectsWith(
      reserve(1, 1),
      Code.FailedPrecondition,
      /^no ship has room for 1 container and 1 kg: no ship is available\. Add a vessel$/,
    );
  });

  it('FindAvailable reads the remaining room and books nothing', async () => {
    await system.retireFleet();
    const ship = await system.addVessel(owner.token, 5, 5000);
    await reserve(3, 3000);
    assert.equal((await vessels.findAvailable({ capacity: 2, maxWeight: 2000 })).vessel?.id, ship);
    await rejectsWith(
      vessels.findAvailable({ capacity: 3, maxWeight: 1 }),
      Code.NotFound,
      /^no available vessel has room for 3 containers and 1 kg$/,
    );
    assert.equal((await listed(ship)).usedCapacity, 3);
  });

  it('a retried Reserve returns the same vessel and books once; a different ask or user is refused', async () => {
    await system.retireFleet();
    const ship = await system.addVessel(owner.token, 10, 1000);
    const first = await reserve(2, 100, 'retried');
    const again = await reserve(2, 100, 'retried');
    assert.deepEqual([first.vessel?.id, again.vessel?.id], [ship, ship]);
    assert.equal((await listed(ship)).usedCapacity, 2);
    await rejectsWith(
      reserve(3, 100, 'retried'),
      Code.AlreadyExists,
      /^consignment "retried" already has room for 2 containers and 100 kg; a retry must ask for the same/,
    );
    const other = await system.signUp('Other');
    await rejectsWith(
      vessels.reserve({ consignmentId: 'retried', containers: 2, weight: 100 }, bearer(other.token)),
      Code.AlreadyExists,
      /already taken/,
    );
    // Concurrent retries of one id book once too.
    const { fulfilled } = await settleAll(Array.from({ length: 10 }, () => () => reserve(1, 1, 'racing')));
    assert.equal(fulfilled.length, 10);
    assert.equal((await listed(ship)).usedCapacity, 3);
  });

  it('Release gives the room back, once, and only to whoever booked it', async () => {
    await system.retireFleet();
    const ship = await system.addVessel(owner.token, 2, 1000);
    await reserve(2, 1000, 'to-release');
    await rejectsWith(reserve(1, 1), Code.FailedPrecondition, /no ship has room/);
    const other = await system.signUp('Other');
    await vessels.release({ consignmentId: 'to-release' }, bearer(other.token));
    assert.equal((await listed(ship)).usedCapacity, 2, "someone else's release changes nothing");
    await vessels.release({ consignmentId: 'to-release' }, bearer(owner.token));
    await vessels.release({ consignmentId: 'to-release' }, bearer(owner.token));
    const shown = await listed(ship);
    assert.deepEqual([shown.usedCapacity, shown.usedWeight], [0, 0]);
    await rejectsWith(vessels.release({ consignmentId: 'x' }), Code.Unauthenticated, /missing Authorization/);
    await rejectsWith(
      vessels.release({ consignmentId: ' ' }, bearer(owner.token)),
      Code.InvalidArgument,
      /^consignment_id is required/,
    );
  });

  it('20 concurrent bookings for a ship with room for 5: exactly 5 get it', async () => {
    await system.retireFleet();
    const ship = await system.addVessel(owner.token, 5, 1_000_000);
    const { fulfilled, rejected } = await settleAll(Array.from({ length: 20 }, () => () => reserve(1, 1000)));
    assert.equal(fulfilled.length, 5);
    assert.ok(fulfilled.every((reservation) => reservation.vessel?.id === ship));
    assert.deepEqual(
      new Set(rejected.map((error) => `${Code[error.code]} ${error.rawMessage}`)),
      new Set([
        'FailedPrecondition no ship has room for 1 container and 1,000 kg; the most room on one ship is 0 containers and 995,000 kg. Add a vessel or split the consignment',
      ]),
    );
    const shown = await listed(ship);
    assert.deepEqual([shown.usedCapacity, shown.usedWeight], [5, 5000]);
  });

  it('refuses bookings out of limits, naming the field', async () => {
    const refused: Array<[Parameters<typeof vessels.reserve>[0], RegExp]> = [
      [{ consignmentId: '', containers: 1, weight: 1 }, /^consignment_id is required/],
      [{ consignmentId: 'x'.repeat(129), containers: 1, weight: 1 }, /^consignment_id must be at most 128/],
      [{ consignmentId: 'c', containers: 0, weight: 1 }, /^containers must be between 1 and 100,000/],
      [{ consignmentId: 'c', containers: 1, weight: 0 }, /^weight must be between 1 and 1,000,000,000 kg/],
    ];
    for (const [request, message] of refused) {
      await rejectsWith(vessels.reserve(request, bearer(owner.token)), Code.InvalidArgument, message);
    }
    await rejectsWith(
      vessels.reserve({ consignmentId: 'c', containers: 1, weight: 1 }),
      Code.Unauthenticated,
      /missing Authorization/,
    );
  });
});

describe('listing vessels', () => {
  it('pages in creation order: page size, tokens, the last page, the default and the maximum', async () => {
    // Enough for a clamped page of 100 to be full with more to come.
    for (let batch = 0; batch < 11; batch += 1) {
      await Promise.all(Array.from({ length: 10 }, () => system.addVessel(owner.token, 1, 1)));
    }
    const all: string[] = [];
    let pages = 0;
    for (let pageToken = ''; ; pages += 1) {
      const page = await vessels.list({ pageSize: 7, pageToken });
      all.push(...page.vessels.map((v) => v.id));
      if (page.nextPageToken === '') {
        assert.ok(page.vessels.length <= 7 && page.vessels.length > 0);
        break;
      }
      assert.equal(page.vessels.length, 7);
      pageToken = page.nextPageToken;
    }
    assert.equal(all[0], 'vessel001');
    assert.equal(new Set(all).size, all.length, 'no vessel on two pages');
    assert.ok(
      all.length > 110 && pages === Math.ceil(all.length / 7) - 1,
      `${all.length} on ${pages + 1} pages`,
    );
    const first = await vessels.list({});
    assert.equal(first.vessels.length, 20, 'page_size 0 means 20');
    assert.deepEqual(
      first.vessels.map((v) => v.id),
      all.slice(0, 20),
    );
    const clamped = await vessels.list({ pageSize: 5000 });
    assert.equal(clamped.vessels.length, 100, 'page_size is clamped to 100');
    assert.notEqual(clamped.nextPageToken, '');
  });

  it('refuses a token it did not give out, and a negative page size', async () => {
    const message = /^page_token is not one this list gave out: pass the next_page_token/;
    for (const pageToken of [
      'garbage',
      'dmVzc2Vsczo=',
      Buffer.from('consignments:5').toString('base64url'),
    ]) {
      await rejectsWith(vessels.list({ pageToken }), Code.InvalidArgument, message);
    }
    await rejectsWith(
      vessels.list({ pageSize: -1 }),
      Code.InvalidArgument,
      /^page_size must not be negative/,
    );
  });

  it('a second replica neither re-migrates nor re-seeds', async () => {
    const before = (await vessels.list({ pageSize: 100 })).vessels.map((v) => v.id);
    // Its migrations would fail if they ran again (003 adds columns); the seed would be a second row.
    await startInProcess(createVesselService, system.runtime, cleanup);
    assert.deepEqual(
      (await vessels.list({ pageSize: 100 })).vessels.map((v) => v.id),
      before,
    );
  });
});
