/**
 * The consignment service: freight a user wants shipped, booked onto a vessel
 * with room for it. Calls the user service (tokens) and the vessel service (Reserve).
 */

import type { Runtime, Service } from 'berth';
import { z } from 'zod';
import { newService, openDatabase } from '../configs/resources.ts';
import { databaseSettings, loadServiceConfig } from '../configs/settings.ts';
import { ConsignmentService } from '../gen/shippy/consignment/v1/consignment_pb.js';
import { UserService } from '../gen/shippy/user/v1/user_pb.js';
import { VesselService } from '../gen/shippy/vessel/v1/vessel_pb.js';
import { consignmentHandlers } from './handlers.ts';
import { ConsignmentRepository, migrations } from './repository.ts';

export const consignmentConfig = z.strictObject({ ...databaseSettings });

export async function createConsignmentService(runtime: Runtime): Promise<Service> {
  const config = loadServiceConfig('consignment', consignmentConfig, runtime.env);
  const service = newService('consignment', runtime);
  const pool = await openDatabase(service, config, migrations);
  return service.handle(
    ConsignmentService,
    consignmentHandlers({
      repository: new ConsignmentRepository(pool, config.databaseSchema),
      users: service.client(UserService),
      vessels: service.client(VesselService),
      logger: service.logger,
    }),
  );
}
