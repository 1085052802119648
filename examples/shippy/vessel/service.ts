/**
 * The vessel service: ships, their capacity and max weight, and which one can
 * carry a consignment. Stateless apart from its Postgres schema.
 */

import type { Runtime, Service } from 'berth';
import { z } from 'zod';
import { newService, openDatabase } from '../configs/resources.ts';
import { databaseSettings, loadServiceConfig } from '../configs/settings.ts';
import { VesselService } from '../gen/shippy/vessel/v1/vessel_pb.js';
import { vesselHandlers } from './handlers.ts';
import { migrations, VesselRepository } from './repository.ts';

export const vesselConfig = z.strictObject({ ...databaseSettings });

export async function createVesselService(runtime: Runtime): Promise<Service> {
  const config = loadServiceConfig('vessel', vesselConfig, runtime.env);
  const service = newService('vessel', runtime);
  const pool = await openDatabase(service, config, migrations);
  return service.handle(VesselService, vesselHandlers(new VesselRepository(pool, config.databaseSchema)));
}
