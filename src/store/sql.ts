/**
 * The slice of a Postgres client that berth's SQL helpers need (migrations, the
 * outbox, dedupe, services' transactions), so they work
 * with `pg` (Pool, PoolClient, Client) against PostgreSQL or PGlite served over the
 * wire, and with anything else that can run a parameterised query.
 */

export interface SqlResult<Row> {
  readonly rows: Row[];
  /** Rows an INSERT, UPDATE or DELETE touched (null for other statements). */
  readonly rowCount?: number | null;
}

/** One connection, or a pool that runs each query on any connection (`pg.Pool`). */
export interface SqlClient {
  // biome-ignore lint/suspicious/noExplicitAny: matches pg's own default row type
  query<Row = any>(text: string, params?: unknown[]): Promise<SqlResult<Row>>;
}

/** A pool that lends a dedicated connection for a transaction (`pg.Pool`). */
export interface SqlPool extends SqlClient {
  connect(): Promise<SqlClient & { release(destroy?: boolean | Error): void }>;
}

function isPool(db: SqlClient | SqlPool): db is SqlPool {
  return typeof (db as Partial<SqlPool>).connect === 'function';
}

/**
 * Runs `fn` in a transaction: on a connection borrowed from `db` when it is a pool,
 * else on `db` itself (which must then be a dedicated connection). Commits when `fn`
 * resolves, rolls back when it throws.
 */
export async function withTransaction<T>(
  db: SqlClient | SqlPool,
  fn: (tx: SqlClient) => Promise<T>,
): Promise<T> {
  const client = isPool(db) ? await db.connect() : undefined;
  const tx: SqlClient = client ?? db;
  let broken: Error | undefined;
  try {
    await tx.query('BEGIN');
    try {
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (error) {
      await tx.query('ROLLBACK').catch((rollbackError: unknown) => {
        // The connection is in an unknown state: have the pool discard it.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    }
  } finally {
    client?.release(broken);
  }
}

/** `"name"` with inner quotes doubled, for schema and table names taken from options. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema".table`, or `table` without a schema. */
export function qualify(schema: string | undefined, table: string): string {
  return schema ? `${quoteIdent(schema)}.${table}` : table;
}
