/**
 * VesselService: who is calling (configs/auth.ts), validation, and mapping between
 * the proto messages and the repository and reservations.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceImpl } from '@connectrpc/connect';
import type { TypedClient } from 'berth';
import { Code, fail } from 'berth';
import { authenticate } from '../configs/auth.ts';
import { formatNumber, inRange, limitedText, quantity, requiredText } from '../configs/limits.ts';
import { pageOf, pageStart } from '../configs/pagination.ts';
import type { UserService } from '../gen/shippy/user/v1/user_pb.js';
import type { VesselService } from '../gen/shippy/vessel/v1/vessel_pb.js';
import { toRecord, type VesselRepository } from './repository.ts';
import type { Reservations, ReserveOutcome } from './reservations.ts';

export const vesselLimits = {
  name: 100,
  id: 128,
  capacity: 100_000,
  maxWeight: 1_000_000_000,
} as const;

export interface VesselHandlerDeps {
  readonly repository: VesselRepository;
  readonly reservations: Reservations;
  readonly users: TypedClient<typeof UserService>;
}

/** "3 containers and 190,000 kg". */
function room(containers: number, weight: number): string {
  return `${quantity(containers, 'container')} and ${formatNumber(weight)} kg`;
}

function noRoomMessage(containers: number, weight: number, outcome: ReserveOutcome & { kind: 'no-room' }) {
  const wanted = `no ship has room for ${room(containers, weight)}`;
  const { mostRoom } = outcome;
  if (!mostRoom) return `${wanted}: no ship is available. Add a vessel`;
  return `${wanted}; the most room on one ship is ${room(mostRoom.containers, mostRoom.weight)}. Add a vessel or split the consignment`;
}

export function vesselHandlers(deps: VesselHandlerDeps): ServiceImpl<typeof VesselService> {
  const { repository, reservations, users } = deps;
  return {
    async create(vessel, context) {
      const ownerId = await authenticate(users, context);
      const record = {
        id: limitedText('id', vessel.id.trim(), vesselLimits.id) || randomUUID(),
        name: requiredText('name', vessel.name, vesselLimits.name),
        capacity: inRange('capacity', vessel.capacity, 1, vesselLimits.capacity, 'containers'),
        maxWeight: inRange('max_weight', vessel.maxWeight, 1, vesselLimits.maxWeight, 'kg'),
        available: vessel.available,
        ownerId,
      };
      if (!(await repository.insert(record))) {
        fail(Code.AlreadyExists, `a vessel with id "${record.id}" already exists`);
      }
      return { created: true, vessel: { ...record, usedCapacity: 0, usedWeight: 0 } };
    },

    async findAvailable(spec) {
      if (spec.capacity < 0) {
        fail(Code.InvalidArgument, `capacity must not be negative (got ${spec.capacity})`);
      }
      if (spec.maxWeight < 0) {
        fail(Code.InvalidArgument, `max_weight must not be negative (got ${spec.maxWeight} kg)`);
      }
      const vessel = await repository.findAvailable(spec.capacity, spec.maxWeight);
      if (!vessel) {
        fail(Code.NotFound, `no available vessel has room for ${room(spec.capacity, spec.maxWeight)}`);
      }
      return { vessel };
    },

    async list(request) {
      const start = pageStart('vessels', request);
      const { rows, nextPageToken } = pageOf('vessels', await repository.list(start), start.size);
      return { vessels: rows.map(toRecord), nextPageToken };
    },

    async reserve(request, context) {
      const userId = await authenticate(users, context);
      const wanted = {
        consignmentId: requiredText('consignment_id', request.consignmentId, vesselLimits.id),
        userId,
        containers: inRange('containers', request.containers, 1, vesselLimits.capacity),
        weight: inRange('weight', request.weight, 1, vesselLimits.maxWeight, 'kg'),
      };
      const outcome = await reservations.reserve(wanted);
      if (outcome.kind === 'no-room') {
        fail(Code.FailedPrecondition, noRoomMessage(wanted.containers, wanted.weight, outcome));
      }
      const { reservation } = outcome;
      if (reservation.userId !== userId) {
        fail(Code.AlreadyExists, `consignment id "${wanted.consignmentId}" is already taken; use another id`);
      }
      if (reservation.containers !== wanted.containers || reservation.weight !== wanted.weight) {
        fail(
          Code.AlreadyExists,
          `consignment "${wanted.consignmentId}" already has room for ${room(reservation.containers, reservation.weight)}; ` +
            'a retry must ask for the same, or use a new consignment id',
        );
      }
      return { vessel: outcome.vessel };
    },

    async release(request, context) {
      const userId = await authenticate(users, context);
      await reservations.release(
        requiredText('consignment_id', request.consignmentId, vesselLimits.id),
        userId,
      );
      return {};
    },
  };
}
