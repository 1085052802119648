/**
 * Consumer-side idempotency. Every broker here delivers at least once (outbox
 * retries, JetStream redelivery), so a consumer with side effects records each
 * event id it handled in the same transaction as its own writes: a redelivered
 * duplicate finds the id and is dropped. The marker is inserted first, so a
 * concurrent duplicate waits on the primary key until the first one commits or
 * rolls back.
 */

import { qualify, quoteIdent, type SqlClient, type SqlPool, withTransaction } from '../store/sql.ts';
import type { BrokerEvent } from './broker.ts';

const table = 'berth_processed_events';

/** Creates the processed-events table if it does not exist. Safe to run on every start. */
export async function ensureProcessedTable(db: SqlClient, schema?: string): Promise<void> {
  if (schema) await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${qualify(schema, table)} (
    consumer text NOT NULL,
    event_id text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
  )`);
}

export interface HandleOnceOptions {
  readonly schema?: string;
}

/**
 * Runs `fn` for `event` unless `consumer` already handled it, in one transaction
 * with the marker row: if `fn` throws, neither its writes nor the marker are kept
 * (rethrown, so the broker redelivers). Resolves true when `fn` ran, false for a
 * duplicate. `db` is a pool (a connection is borrowed) or a dedicated connection.
 * Side effects outside `tx` (an email) happen at least once if COMMIT itself fails.
 */
export async function handleOnce(
  db: SqlClient | SqlPool,
  consumer: string,
  event: Pick<BrokerEvent, 'id'>,
  fn: (tx: SqlClient) => Promise<void>,
  options: HandleOnceOptions = {},
): Promise<boolean> {
  return withTransaction(db, async (tx) => {
    const { rows } = await tx.query(
      `INSERT INTO ${qualify(options.schema, table)} (consumer, event_id) VALUES ($1, $2)
       ON CONFLICT DO NOTHING RETURNING event_id`,
      [consumer, event.id],
    );
    if (rows.length === 0) return false;
    await fn(tx);
    return true;
  });
}

/** Deletes markers older than `olderThanMs`; keep them longer than any redelivery can take. */
export async function pruneProcessed(db: SqlClient, olderThanMs: number, schema?: string): Promise<number> {
  const { rows } = await db.query(
    `DELETE FROM ${qualify(schema, table)} WHERE processed_at < now() - $1::bigint * interval '1 millisecond'
     RETURNING event_id`,
    [olderThanMs],
  );
  return rows.length;
}
