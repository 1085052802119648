/**
 * The vessel service: ships, their capacity and max weight, and the room
 * consignments have booked on them. Stateless apart from its Postgres schema;
 * calls the user service to check the tokens of Create, Reserve and Release.
 */

import type { Runtime, Service } from 'berth';
import { z } from 'zod';
import { newService, openDatabase } from '../configs/resources.ts';
import { databaseSettings, loadServiceConfig } from '../configs/settings.ts';
import { UserService } from '../gen/shippy/user/v1/user_pb.js';
import { VesselService } from '../gen/shippy/vessel/v1/vessel_pb.js';
import { vesselHandlers } from './handlers.ts';
import { migrations, VesselRepository } from './repository.ts';
import { Reservations } from './reservations.ts';

export const vesselConfig = z.strictObject({ ...databaseSettings });

export async function createVesselService(runtime: Runtime): Promise<Service> {
  const config = loadServiceConfig('vessel', vesselConfig, runtime.env);
  const service = newService('vessel', runtime);
  const pool = await openDatabase(service, config, migrations);
  return service.handle(
    VesselService,
    vesselHandlers({
      repository: new VesselRepository(pool, config.databaseSchema),
      reservations: new Reservations(pool, config.databaseSchema),
      users: service.client(UserService),
    }),
  );
}
