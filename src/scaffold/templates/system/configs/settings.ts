/**
 * What every __system__ service shares: the system's name and version, and how a
 * service loads its settings. A service's zod schema is fed by its
 * `configs/base.yaml`, then `configs/<env>.yaml` (env = BERTH_ENV, default dev), then
 * environment variables: keys are flat so the usual variables map straight onto
 * them (`DATABASE_URL` → `databaseUrl`). A bad value stops the service before it
 * serves, naming the file or the variable.
 */
import { loadConfig } from 'berth';
import type { z } from 'zod';

/** The system every service belongs to (registry names `__system__.<service>`). */
export const system = '__system__';
export const version = '0.1.0';

/** Loads and validates the settings in `dir`; throws a ConfigError naming every problem. */
export function loadServiceConfig<S extends z.core.$ZodType>(
  dir: string,
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): z.output<S> {
  return loadConfig({ schema, dir, env: env.BERTH_ENV, environment: env });
}
