/**
 * ConsignmentService: who is calling (auth.ts), validation, which vessel carries
 * it (the vessel service), storage. Create is safe to retry: a client that sends
 * its own `id` gets the stored consignment back when it repeats the call, and the
 * consignment is never stored twice.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceImpl } from '@connectrpc/connect';
import type { TypedClient } from 'berth';
import { Code, ConnectError, fail } from 'berth';
import type { ConsignmentService } from '../gen/shippy/consignment/v1/consignment_pb.js';
import type { UserService } from '../gen/shippy/user/v1/user_pb.js';
import type { VesselService } from '../gen/shippy/vessel/v1/vessel_pb.js';
import { authenticate } from './auth.ts';
import type { ConsignmentRecord, ConsignmentRepository } from './repository.ts';

export const maxContainers = 1000;
const maxIdLength = 128;

export interface ConsignmentHandlerDeps {
  readonly repository: ConsignmentRepository;
  readonly users: TypedClient<typeof UserService>;
  readonly vessels: TypedClient<typeof VesselService>;
}

export function consignmentHandlers(deps: ConsignmentHandlerDeps): ServiceImpl<typeof ConsignmentService> {
  const { repository, users, vessels } = deps;

  /** The stored consignment `id` if it is `userId`'s (a retried create); AlreadyExists if someone else's. */
  async function existing(id: string, userId: string): Promise<ConsignmentRecord | undefined> {
    const stored = await repository.byId(id);
    if (stored && stored.userId !== userId) {
      fail(Code.AlreadyExists, `consignment id "${id}" is already taken`);
    }
    return stored;
  }

  return {
    async create(input, context) {
      const userId = await authenticate(users, context);
      const id = input.id.trim();
      const count = input.containers.length;
      if (id.length > maxIdLength) fail(Code.InvalidArgument, `id must be at most ${maxIdLength} characters`);
      if (input.weight <= 0) {
        fail(Code.InvalidArgument, `weight must be greater than 0 (got ${input.weight})`);
      }
      if (count === 0) {
        fail(Code.InvalidArgument, 'containers must not be empty: a consignment needs at least one');
      }
      if (count > maxContainers) {
        fail(Code.InvalidArgument, `containers: at most ${maxContainers} per consignment (got ${count})`);
      }
      const retried = id === '' ? undefined : await existing(id, userId);
      if (retried) return { created: true, consignment: retried };

      let vessel: { id: string; name: string } | undefined;
      try {
        ({ vessel } = await vessels.findAvailable({ capacity: count, maxWeight: input.weight }));
      } catch (error) {
        if (error instanceof ConnectError && error.code === Code.NotFound) {
          fail(Code.FailedPrecondition, `no vessel can carry ${count} containers weighing ${input.weight}`);
        }
        throw error;
      }
      if (!vessel) fail(Code.Internal, 'the vessel service answered without a vessel');

      const consignment: ConsignmentRecord = {
        id: id || randomUUID(),
        userId,
        description: input.description,
        weight: input.weight,
        vesselId: vessel.id,
        vesselName: vessel.name,
        containers: input.containers.map((container) => ({
          id: container.id || randomUUID(),
          customerId: container.customerId,
          origin: container.origin,
          userId: container.userId,
        })),
      };
      if (await repository.insert(consignment)) return { created: true, consignment };
      // The same id was stored between our check and our insert: a concurrent retry.
      const stored = await existing(consignment.id, userId);
      if (!stored) fail(Code.Aborted, `consignment "${consignment.id}" changed while being created; retry`);
      return { created: true, consignment: stored };
    },

    async get(_request, context) {
      const userId = await authenticate(users, context);
      return { consignments: await repository.byUser(userId) };
    },
  };
}
