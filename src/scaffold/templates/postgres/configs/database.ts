/**
 * Postgres for the services that use it (`uses: [postgres]` in berth.yaml): one
 * database, a schema per service. `berth run` gives each such service a
 * DATABASE_URL (its embedded PGlite unless you set DATABASE_URL yourself); on
 * Kubernetes it comes from a Secret.
 */
import type { Service } from 'berth';
import { checkDatabase, createPool, type Migration, migrate, redactUrl, waitForDatabase } from 'berth/store';
import { z } from 'zod';
import { system } from './settings.ts';

/** The settings of a service that uses Postgres (spread them into its schema). */
export const databaseSettings = {
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, { error: 'expected a postgres:// URL' }),
  databaseSchema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'expected a lowercase schema name (a-z, 0-9, _)' }),
  databasePoolMax: z.int().min(1).max(100),
};

export type DatabaseSettings = z.output<z.ZodObject<typeof databaseSettings>>;

/**
 * Connects (waiting for the database to come up), migrates the service's schema,
 * adds a readiness check, and closes the pool when the service stops, after its
 * requests have drained.
 */
export async function openDatabase(
  service: Service,
  settings: DatabaseSettings,
  migrations: readonly Migration[],
) {
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
