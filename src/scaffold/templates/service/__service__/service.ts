/**
 * The __service__ service, built from a Runtime: `main.ts` runs it as a process
 * (`berth run`, a container), tests build it in-process.
 */
import { join } from 'node:path';
import type { Runtime, Service } from 'berth';
import { z } from 'zod';
// @if nats
import { brokerSettings, openBroker } from '../configs/broker.ts';
// @end
// @if postgres
import { databaseSettings, openDatabase } from '../configs/database.ts';
// @end
import { newService } from '../configs/service.ts';
import { loadServiceConfig } from '../configs/settings.ts';
import { __Service__Service } from '../gen/__system_pkg__/__service_pkg__/v1/__service_pkg___pb.js';
import { __serviceVar__Handlers } from './handlers.ts';
// @if postgres
import { GreetingCounts, migrations } from './repository.ts';
// @end

/** The settings of configs/base.yaml (then configs/<env>.yaml, then environment variables). */
export const __serviceVar__Config = z.strictObject({
  greeting: z.string().min(1),
  // @if postgres
  ...databaseSettings,
  // @end
  // @if nats
  ...brokerSettings,
  // @end
});

export async function create__Service__Service(runtime: Runtime): Promise<Service> {
  const config = loadServiceConfig(join(import.meta.dirname, 'configs'), __serviceVar__Config, runtime.env);
  const service = newService('__service__', runtime);
  // @if postgres
  const pool = await openDatabase(service, config, migrations);
  // @end
  // @if nats
  const broker = await openBroker(service, runtime, config);
  // @end
  return service.handle(
    __Service__Service,
    __serviceVar__Handlers({
      greeting: config.greeting,
      // @if postgres
      greetings: new GreetingCounts(pool, config.databaseSchema),
      // @end
      // @if nats
      broker,
      // @end
    }),
  );
}
