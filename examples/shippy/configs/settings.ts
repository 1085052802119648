/**
 * Settings every shippy service shares, and how each loads its own: the zod schema
 * of the service, fed by `<service>/configs/base.yaml`, then `<service>/configs/<env>.yaml`
 * (env = BERTH_ENV, default dev), then environment variables. Keys are flat so the
 * conventional variables map straight onto them: `DATABASE_URL` → `databaseUrl`,
 * `NATS_URL` → `natsUrl`, `BERTH_DATA_DIR` → `berthDataDir`, `JWT_SECRET` → `jwtSecret`.
 * A bad value stops the service before it serves, naming the file or variable.
 */
import { join } from 'node:path';
import { loadConfig } from 'berth';
import { z } from 'zod';

/** The system every shippy service belongs to (registry names `shippy.<service>`). */
export const system = 'shippy';
export const version = '1.0.0';

/** An optional setting; an empty value (`NATS_URL=`) counts as unset, as with most tools. */
export function optionalSetting<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === '' ? undefined : value), schema.optional());
}

/** Postgres, one schema per service (`vessel`, `user`, ...). */
export const databaseSettings = {
  /** The runner passes each service a URL; on Kubernetes it comes from a Secret. */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, { error: 'expected a postgres:// URL' }),
  databaseSchema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'expected a lowercase schema name (a-z, 0-9, _)' }),
  databasePoolMax: z.int().min(1).max(100),
};

/** Events: NATS JetStream when `NATS_URL` is set, else the embedded direct broker. */
export const brokerSettings = {
  natsUrl: optionalSetting(z.string().regex(/^(nats|tls|wss?):\/\//, { error: 'expected a nats:// URL' })),
};

/** Local state (broker groups, email outbox, generated keys), shared by the system's processes. */
export const dataDirSettings = {
  berthDataDir: z.string().min(1).default('.berth/data'),
};

export type DatabaseSettings = z.output<z.ZodObject<typeof databaseSettings>>;
export type BrokerSettings = z.output<z.ZodObject<typeof brokerSettings>>;
export type DataDirSettings = z.output<z.ZodObject<typeof dataDirSettings>>;

/** Loads and validates `<service>`'s configuration; throws a ConfigError naming every problem. */
export function loadServiceConfig<S extends z.core.$ZodType>(
  service: string,
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): z.output<S> {
  return loadConfig({
    schema,
    dir: join(import.meta.dirname, '..', service, 'configs'),
    env: env.BERTH_ENV,
    environment: env,
  });
}
