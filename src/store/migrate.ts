/**
 * Schema migrations, per service schema. `migrate` applies the migrations not yet
 * recorded in `"<schema>".berth_migrations`, in list order, all in ONE transaction
 * that first takes an advisory lock on the schema: replicas that start together
 * queue behind each other, the first applies, the others find everything applied.
 * A failing migration rolls the whole batch back and the service does not start.
 *
 * Migrations run with `search_path` set to the schema for that transaction only
 * (SET LOCAL), so their SQL names tables unqualified: `CREATE TABLE vessels (...)`
 * lands in `"vessel".vessels`. Application queries qualify names instead (pool.ts).
 *
 * Migrations are append-only: never edit or reorder one that has shipped; ids
 * recorded in the database but absent from the list (a newer version ran) are left alone.
 */
import type pg from 'pg';
import { quoteIdent, type SqlClient, withTransaction } from './sql.ts';

export type Migration =
  | { readonly id: string; readonly sql: string }
  /** For steps other code provides, such as the outbox table (`ensureOutboxTable`). */
  | { readonly id: string; readonly run: (tx: SqlClient) => Promise<void> };

/** Applies pending migrations; resolves with the ids it applied (empty when up to date). */
export async function migrate(
  pool: pg.Pool,
  schema: string,
  migrations: readonly Migration[],
): Promise<string[]> {
  const seen = new Set<string>();
  for (const migration of migrations) {
    if (!migration.id) throw new Error(`migration of schema "${schema}" without an id`);
    if (seen.has(migration.id)) throw new Error(`migration id "${migration.id}" appears twice`);
    seen.add(migration.id);
  }
  const table = `${quoteIdent(schema)}.berth_migrations`;
  return withTransaction(pool, async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('berth.migrate'), hashtext($1))`, [schema]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await tx.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${table} (
      id text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ id: string }>(`SELECT id FROM ${table}`);
    const done = new Set(rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      try {
        if ('sql' in migration) await tx.query(migration.sql);
        else await migration.run(tx);
      } catch (error) {
        throw new Error(
          `migration "${migration.id}" of schema "${schema}" failed: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      await tx.query(`INSERT INTO ${table} (id) VALUES ($1)`, [migration.id]);
      applied.push(migration.id);
    }
    return applied;
  });
}
