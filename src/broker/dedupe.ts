/**
 * Consumer-side idempotency. Every broker here delivers at least once (outbox
 * retries, JetStream redelivery), so a consumer with side effects records each
 * event id it handled in the same transaction as its own writes: a redelivered
 * duplicate finds the id and is dropped. The marker is inserted first, so a
 * concurrent duplicate waits on the primary key until the first one commits or
 * rolls back. A side effect outside the database (a mail) uses `effectOnce`, which
 * holds no transaction open across the effect's network I/O.
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

/**
 * For an effect outside the database (sending a mail, calling an API): runs `fn`
 * unless `consumer` already handled `event`, then records it. No transaction is
 * held open while `fn` waits on the network: a transaction held across an SMTP
 * exchange blocks other writers, and with the embedded database every service's
 * queries. The cost is at-least-once for the effect: a crash between `fn` and the
 * record, or two deliveries at once, repeat it, so key it by the event id (a
 * Message-ID, an idempotency key). If `fn` throws, nothing is recorded and the
 * error is rethrown for the broker to redeliver. Resolves false for a duplicate.
 */
export async function effectOnce(
  db: SqlClient,
  consumer: string,
  event: Pick<BrokerEvent, 'id'>,
  fn: () => Promise<void>,
  options: HandleOnceOptions = {},
): Promise<boolean> {
  const markers = qualify(options.schema, table);
  const seen = await db.query(`SELECT 1 FROM ${markers} WHERE consumer = $1 AND event_id = $2`, [
    consumer,
    event.id,
  ]);
  if (seen.rows.length > 0) return false;
  await fn();
  await db.query(`INSERT INTO ${markers} (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
    consumer,
    event.id,
  ]);
  return true;
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
