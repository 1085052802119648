/**
 * The user service: accounts, passwords, session tokens (revoked by Logout in the
 * database, so on every replica), and the `user.created`
 * event (written to the outbox with the user, delivered by the relay through the
 * broker to the email service, at least once).
 */

import type { Runtime, Service } from 'berth';
import { OutboxRelay } from 'berth/broker';
import { z } from 'zod';
import { newService, openBroker, openDatabase } from '../configs/resources.ts';
import {
  brokerSettings,
  databaseSettings,
  dataDirSettings,
  loadServiceConfig,
  optionalSetting,
} from '../configs/settings.ts';
import { UserService } from '../gen/shippy/user/v1/user_pb.js';
import { userHandlers } from './handlers.ts';
import { migrations, UserRepository } from './repository.ts';
import { Revocations } from './revocations.ts';
import { Sessions } from './sessions.ts';
import { loadSigningKey, minSecretLength, Tokens } from './tokens.ts';

// A custom message, so that a rejected secret is never echoed into the logs.
const secret = z.string().refine((value) => value.length >= minSecretLength, {
  error: `expected a secret of at least ${minSecretLength} characters (value not shown)`,
});

export const userConfig = z
  .strictObject({
    ...databaseSettings,
    ...brokerSettings,
    ...dataDirSettings,
    jwtSecret: optionalSetting(secret),
    jwtSecretFile: optionalSetting(z.string()),
    tokenTtlSeconds: z.int().min(60),
  })
  .refine((config) => config.jwtSecret === undefined || config.jwtSecretFile === undefined, {
    error: 'set JWT_SECRET or JWT_SECRET_FILE, not both',
    path: ['jwtSecretFile'],
  });

export async function createUserService(runtime: Runtime): Promise<Service> {
  const config = loadServiceConfig('user', userConfig, runtime.env);
  const service = newService('user', runtime);
  const tokens = new Tokens(await loadSigningKey(config), config.tokenTtlSeconds);
  const pool = await openDatabase(service, config, migrations);
  const broker = await openBroker(service, runtime, config);
  const relay = new OutboxRelay({ db: pool, broker, logger: service.logger, schema: config.databaseSchema });
  service.onClose(() => relay.close());
  return service.handle(
    UserService,
    userHandlers({
      repository: new UserRepository(pool, config.databaseSchema),
      sessions: new Sessions(tokens, new Revocations(pool, config.databaseSchema)),
      eventsEnqueued: () => relay.wake(),
    }),
  );
}
