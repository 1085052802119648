/** `berth/store`: PostgreSQL (or PGlite over the wire) pools, readiness, migrations and transactions. */
export { type Migration, migrate } from './migrate.ts';
export {
  checkDatabase,
  createPool,
  type PoolOptions,
  qualify,
  quoteIdent,
  redactUrl,
  type WaitForDatabaseOptions,
  waitForDatabase,
  withTransaction,
} from './pool.ts';
export type { SqlClient, SqlPool, SqlResult } from './sql.ts';
