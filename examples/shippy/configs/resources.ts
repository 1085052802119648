/**
 * What every shippy service sets up the same way: the berth Service itself, its
 * database (pool, migrations, readiness, close) and its broker. Each helper ties
 * the resource to the service's lifecycle: a readiness check and an `onClose`,
 * so shutdown closes them in reverse order after requests have drained.
 */
import { join } from 'node:path';
import type { Runtime } from 'berth';
import { Service } from 'berth';
import type { Broker } from 'berth/broker';
import { checkDatabase, createPool, type Migration, migrate, redactUrl, waitForDatabase } from 'berth/store';
import type pg from 'pg';
import {
  type BrokerSettings,
  type DatabaseSettings,
  type DataDirSettings,
  system,
  version,
} from './settings.ts';

export function newService(name: string, runtime: Runtime): Service {
  return new Service({
    name,
    system,
    version,
    registry: runtime.registry,
    logger: runtime.logger,
    host: runtime.host,
    port: runtime.port,
    advertiseHost: runtime.advertiseHost,
  });
}

/** Connects (waiting for the database to come up), migrates the service's schema, checks readiness. */
export async function openDatabase(
  service: Service,
  settings: DatabaseSettings,
  migrations: readonly Migration[],
): Promise<pg.Pool> {
  const pool = createPool(settings.databaseUrl, {
    max: settings.databasePoolMax,
    applicationName: `${system}-${service.name}`,
    logger: service.logger,
  });
  service.onClose(() => pool.end());
  const where = { database: redactUrl(settings.databaseUrl), schema: settings.databaseSchema };
  await waitForDatabase(pool, { logger: service.logger.child(where) });
  const applied = await migrate(pool, settings.databaseSchema, migrations);
  if (applied.length > 0) service.logger.info({ ...where, applied }, 'database migrated');
  service.checkReady('database', (signal) => checkDatabase(pool, signal));
  return pool;
}

/**
 * NATS JetStream when `natsUrl` is set (stream and subjects named after the
 * system), else the direct broker, which finds subscribers in the registry and
 * remembers durable queue groups under `<data dir>/broker`.
 */
export async function openBroker(
  service: Service,
  runtime: Runtime,
  settings: BrokerSettings & DataDirSettings,
): Promise<Broker> {
  // Each broker is loaded only when chosen, and not at all by services without one
  // (the NATS client and undici are ~12 MB of RSS together).
  let broker: Broker;
  if (settings.natsUrl) {
    const { NatsBroker } = await import('berth/broker/nats');
    const nats = await NatsBroker.connect({
      servers: settings.natsUrl,
      name: service.instanceId,
      logger: service.logger,
      stream: system,
      subjectPrefix: system,
    });
    service.checkReady('broker', (signal) => nats.check(signal));
    broker = nats;
  } else {
    const { DirectBroker } = await import('berth/broker/direct');
    broker = await DirectBroker.start({
      registry: runtime.registry,
      logger: service.logger,
      host: runtime.host,
      advertiseHost: runtime.advertiseHost,
      system,
      owner: service.name,
      stateDir: join(settings.berthDataDir, 'broker'),
      token: runtime.brokerToken,
    });
  }
  service.onClose(() => broker.close());
  return broker;
}
