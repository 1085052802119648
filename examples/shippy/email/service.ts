/**
 * The email service: no RPC methods, but a berth Service all the same (registry,
 * health, metrics, graceful stop). It subscribes to `user.created` in queue group
 * `email`, so each event reaches one replica, and sends a welcome mail.
 */

import type { Runtime, Service } from 'berth';
import { pruneProcessed } from 'berth/broker';
import { z } from 'zod';
import { newService, openBroker, openDatabase } from '../configs/resources.ts';
import {
  brokerSettings,
  databaseSettings,
  dataDirSettings,
  loadServiceConfig,
  optionalSetting,
} from '../configs/settings.ts';
import { createMailer } from './mailer.ts';
import { migrations, queue, topic, welcomeSubscriber } from './subscriber.ts';

/** A week: far beyond the outbox's longest backoff between redeliveries. */
const markerLifetimeMs = 7 * 24 * 3_600_000;

export const emailConfig = z.strictObject({
  ...databaseSettings,
  ...brokerSettings,
  ...dataDirSettings,
  smtpUrl: optionalSetting(z.url({ protocol: /^smtps?$/, error: 'expected an smtp:// or smtps:// URL' })),
  mailFrom: z.string().min(3),
});

export async function createEmailService(runtime: Runtime): Promise<Service> {
  const config = loadServiceConfig('email', emailConfig, runtime.env);
  const service = newService('email', runtime);
  const mailer = await createMailer(config);
  service.onClose(() => mailer.close());
  const pool = await openDatabase(service, config, migrations);
  const broker = await openBroker(service, runtime, config);
  const handler = welcomeSubscriber({
    pool,
    schema: config.databaseSchema,
    mailer,
    from: config.mailFrom,
    logger: service.logger,
  });
  await broker.subscribe(topic, handler, { queue });
  // Markers of handled events need only outlive any redelivery of them; pruned so the table stays small.
  const pruning = setInterval(() => {
    pruneProcessed(pool, markerLifetimeMs, config.databaseSchema).catch((error: unknown) =>
      service.logger.warn({ err: error }, 'pruning handled-event markers failed; next try in an hour'),
    );
  }, 3_600_000).unref();
  service.onClose(() => clearInterval(pruning));
  service.logger.info({ topic, queue, mailTo: mailer.target }, 'subscribed');
  return service;
}
