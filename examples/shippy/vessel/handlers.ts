/**
 * VesselService: validation and mapping between the proto messages and the repository.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceImpl } from '@connectrpc/connect';
import { Code, fail } from 'berth';
import type { VesselService } from '../gen/shippy/vessel/v1/vessel_pb.js';
import type { VesselRepository } from './repository.ts';

export function vesselHandlers(repository: VesselRepository): ServiceImpl<typeof VesselService> {
  return {
    async create(vessel) {
      const name = vessel.name.trim();
      if (name === '') fail(Code.InvalidArgument, 'name must not be empty');
      if (vessel.capacity <= 0) {
        fail(Code.InvalidArgument, `capacity must be greater than 0 (got ${vessel.capacity})`);
      }
      if (vessel.maxWeight <= 0) {
        fail(Code.InvalidArgument, `max_weight must be greater than 0 (got ${vessel.maxWeight})`);
      }
      const record = {
        id: vessel.id.trim() || randomUUID(),
        name,
        capacity: vessel.capacity,
        maxWeight: vessel.maxWeight,
        available: vessel.available,
        ownerId: vessel.ownerId,
      };
      if (!(await repository.insert(record))) {
        fail(Code.AlreadyExists, `a vessel with id "${record.id}" already exists`);
      }
      return { created: true, vessel: record };
    },

    async findAvailable(spec) {
      if (spec.capacity < 0) {
        fail(Code.InvalidArgument, `capacity must not be negative (got ${spec.capacity})`);
      }
      if (spec.maxWeight < 0) {
        fail(Code.InvalidArgument, `max_weight must not be negative (got ${spec.maxWeight})`);
      }
      const vessel = await repository.findAvailable(spec.capacity, spec.maxWeight);
      if (!vessel) {
        fail(
          Code.NotFound,
          `no available vessel with capacity >= ${spec.capacity} and max_weight >= ${spec.maxWeight}`,
        );
      }
      return { vessel };
    },

    async list() {
      return { vessels: await repository.list() };
    },
  };
}
