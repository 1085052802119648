/**
 * ConsignmentService: who is calling (configs/auth.ts), validation, booking room
 * on a vessel (VesselService.Reserve), storage. Create is safe to retry: the
 * consignment id is decided before the booking and is the booking's key, so a
 * client that sends its own `id` and repeats the call gets the stored consignment
 * back, booked and stored once.
 */
import { randomUUID } from 'node:crypto';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import type { Logger, TypedClient } from 'berth';
import { Code, ConnectError, fail } from 'berth';
import { authenticate, onBehalfOfCaller } from '../configs/auth.ts';
import { inRange, limitedText, requiredText } from '../configs/limits.ts';
import { pageOf, pageStart } from '../configs/pagination.ts';
import type { Consignment, ConsignmentService } from '../gen/shippy/consignment/v1/consignment_pb.js';
import type { UserService } from '../gen/shippy/user/v1/user_pb.js';
import type { VesselService } from '../gen/shippy/vessel/v1/vessel_pb.js';
import type { ConsignmentRecord, ConsignmentRepository } from './repository.ts';

export const consignmentLimits = {
  id: 128,
  description: 500,
  customerId: 100,
  origin: 100,
  weight: 1_000_000_000,
  containers: 1000,
} as const;

export interface ConsignmentHandlerDeps {
  readonly repository: ConsignmentRepository;
  readonly users: TypedClient<typeof UserService>;
  readonly vessels: TypedClient<typeof VesselService>;
  readonly logger: Logger;
}

/** The consignment as the caller asked for it, validated; vessel and ids still to come. */
function validated(input: Consignment, userId: string) {
  const count = input.containers.length;
  if (count === 0) {
    fail(Code.InvalidArgument, 'containers must not be empty: a consignment needs at least one');
  }
  if (count > consignmentLimits.containers) {
    fail(
      Code.InvalidArgument,
      `containers: at most ${consignmentLimits.containers} per consignment (got ${count}); split it into several`,
    );
  }
  return {
    id: limitedText('id', input.id.trim(), consignmentLimits.id),
    userId,
    description: requiredText('description', input.description, consignmentLimits.description),
    weight: inRange('weight', input.weight, 1, consignmentLimits.weight, 'kg'),
    containers: input.containers.map((container, i) => ({
      id: limitedText(`containers[${i}].id`, container.id.trim(), consignmentLimits.id) || randomUUID(),
      customerId: requiredText(
        `containers[${i}].customer_id`,
        container.customerId,
        consignmentLimits.customerId,
      ),
      origin: requiredText(`containers[${i}].origin`, container.origin, consignmentLimits.origin),
      userId: limitedText(`containers[${i}].user_id`, container.userId.trim(), consignmentLimits.id),
    })),
  };
}

export function consignmentHandlers(deps: ConsignmentHandlerDeps): ServiceImpl<typeof ConsignmentService> {
  const { repository, users, vessels, logger } = deps;

  /** The stored consignment `id` if it is `userId`'s (a retried create); AlreadyExists if someone else's. */
  async function existing(id: string, userId: string): Promise<ConsignmentRecord | undefined> {
    const stored = await repository.byId(id);
    if (stored && stored.userId !== userId) {
      fail(Code.AlreadyExists, `consignment id "${id}" is already taken`);
    }
    return stored;
  }

  /** Books room for it; the vessel service's refusals (no room, id taken) reach the caller as they are. */
  async function reserve(consignmentId: string, containers: number, weight: number, context: HandlerContext) {
    try {
      const { vessel } = await vessels.reserve(
        { consignmentId, containers, weight },
        onBehalfOfCaller(context),
      );
      if (!vessel) fail(Code.Internal, 'the vessel service answered without a vessel');
      return vessel;
    } catch (error) {
      if (
        error instanceof ConnectError &&
        [Code.FailedPrecondition, Code.AlreadyExists, Code.InvalidArgument].includes(error.code)
      ) {
        fail(error.code, error.rawMessage);
      }
      throw error;
    }
  }

  return {
    async create(input, context) {
      const userId = await authenticate(users, context);
      const request = validated(input, userId);
      const retried = request.id === '' ? undefined : await existing(request.id, userId);
      if (retried) return { created: true, consignment: retried };

      const id = request.id || randomUUID();
      const vessel = await reserve(id, request.containers.length, request.weight, context);
      const consignment: ConsignmentRecord = {
        ...request,
        id,
        vesselId: vessel.id,
        vesselName: vessel.name,
        createdAt: new Date().toISOString(),
      };
      let inserted: boolean;
      try {
        inserted = await repository.insert(consignment);
      } catch (error) {
        // Not stored: give the room back, so a failed create books nothing.
        await vessels
          .release({ consignmentId: id }, onBehalfOfCaller(context))
          .catch((releaseError: unknown) => {
            logger.warn(
              { err: releaseError, consignmentId: id },
              'could not release the room of a consignment not stored',
            );
          });
        throw error;
      }
      if (inserted) return { created: true, consignment };
      // The same id was stored between our check and our insert: a concurrent retry, on the same booking.
      const stored = await existing(id, userId);
      if (!stored) fail(Code.Aborted, `consignment "${id}" changed while being created; retry`);
      return { created: true, consignment: stored };
    },

    async get(request, context) {
      const userId = await authenticate(users, context);
      const start = pageStart('consignments', request);
      const { rows, nextPageToken } = pageOf(
        'consignments',
        await repository.byUser(userId, start),
        start.size,
      );
      return { consignments: rows.map((row) => row.record), nextPageToken };
    },
  };
}
