/**
 * The Events page: each service's transactional outbox (src/broker/outbox.ts), by
 * topic — pending, delivered, redelivered (published after more than one attempt)
 * and parked (`next_attempt_at = 'infinity'`: no retry can publish it; its
 * `last_error` says why) — and Retry, which sets a parked event's `next_attempt_at`
 * to now() as outbox.ts's log line tells an operator to: the relay's next poll
 * takes it. And the consumer side: each queue group's processed events, from the
 * `berth_processed_events` tables of src/broker/dedupe.ts. Every schema holding
 * one of those tables is found, so no service's schema needs to be known here.
 */
import pg from 'pg';
import { HttpError } from './http-io.ts';

export interface TopicCounts {
  readonly database: string;
  readonly schema: string;
  readonly topic: string;
  readonly pending: number;
  readonly delivered: number;
  readonly redelivered: number;
  readonly parked: number;
}

export interface ParkedEvent {
  readonly database: string;
  readonly schema: string;
  readonly id: string;
  readonly topic: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly createdAt: string;
}

export interface ConsumerCounts {
  readonly database: string;
  readonly schema: string;
  /** The consumer name handleOnce was given: the queue group. */
  readonly consumer: string;
  readonly processed: number;
  readonly lastProcessedAt: string;
}

export interface EventsSnapshot {
  readonly topics: readonly TopicCounts[];
  readonly consumers: readonly ConsumerCounts[];
  readonly parked: readonly ParkedEvent[];
  /** A database that could not be read, with why. */
  readonly errors: readonly string[];
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The databases of the run, by a name the page shows (never the URL: it holds the password). */
export class EventsView {
  readonly #pools = new Map<string, pg.Pool>();
  readonly #urls: ReadonlyMap<string, string>;

  constructor(urls: ReadonlyMap<string, string>) {
    this.#urls = urls;
  }

  #pool(database: string): pg.Pool {
    const url = this.#urls.get(database);
    if (url === undefined) throw new HttpError(400, `unknown database "${database}"`);
    let pool = this.#pools.get(database);
    if (!pool) {
      pool = new pg.Pool({
        connectionString: url,
        max: 2,
        connectionTimeoutMillis: 3000,
        idleTimeoutMillis: 5000,
      });
      pool.on('error', () => {}); // a dropped idle connection: the next query reconnects
      this.#pools.set(database, pool);
    }
    return pool;
  }

  async snapshot(): Promise<EventsSnapshot> {
    const topics: TopicCounts[] = [];
    const parked: ParkedEvent[] = [];
    const consumers: ConsumerCounts[] = [];
    const errors: string[] = [];
    for (const database of this.#urls.keys()) {
      try {
        const pool = this.#pool(database);
        const processed = await pool.query<{ schema: string }>(
          `SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'berth_processed_events' ORDER BY 1`,
        );
        for (const { schema } of processed.rows) {
          const rows = await pool.query<{ consumer: string; processed: string; last: Date }>(
            `SELECT consumer, count(*) AS processed, max(processed_at) AS last
             FROM ${quote(schema)}.berth_processed_events GROUP BY consumer ORDER BY consumer`,
          );
          for (const row of rows.rows) {
            consumers.push({
              database,
              schema,
              consumer: row.consumer,
              processed: Number(row.processed),
              lastProcessedAt: new Date(row.last).toISOString(),
            });
          }
        }
        const schemas = await pool.query<{ schema: string }>(
          `SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'berth_outbox' ORDER BY 1`,
        );
        for (const { schema } of schemas.rows) {
          const table = `${quote(schema)}.berth_outbox`;
          const counts = await pool.query<Record<string, string>>(
            `SELECT topic,
               count(*) FILTER (WHERE delivered_at IS NULL AND next_attempt_at <> 'infinity') AS pending,
               count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
               count(*) FILTER (WHERE delivered_at IS NOT NULL AND attempts > 1) AS redelivered,
               count(*) FILTER (WHERE delivered_at IS NULL AND next_attempt_at = 'infinity') AS parked
             FROM ${table} GROUP BY topic ORDER BY topic`,
          );
          for (const row of counts.rows) {
            topics.push({
              database,
              schema,
              topic: row.topic!,
              pending: Number(row.pending),
              delivered: Number(row.delivered),
              redelivered: Number(row.redelivered),
              parked: Number(row.parked),
            });
          }
          const rows = await pool.query<{
            id: string;
            topic: string;
            attempts: number;
            last_error: string | null;
            created_at: Date;
          }>(
            `SELECT id, topic, attempts, last_error, created_at FROM ${table}
             WHERE delivered_at IS NULL AND next_attempt_at = 'infinity' ORDER BY created_at DESC LIMIT 100`,
          );
          for (const row of rows.rows) {
            parked.push({
              database,
              schema,
              id: row.id,
              topic: row.topic,
              attempts: row.attempts,
              lastError: row.last_error,
              createdAt: new Date(row.created_at).toISOString(),
            });
          }
        }
      } catch (error) {
        errors.push(`${database}: ${(error as Error).message}`);
      }
    }
    return { topics, consumers, parked, errors };
  }

  /** Makes a parked event due now; HttpError 404 when no such parked event exists. */
  async retry(database: string, schema: string, id: string): Promise<void> {
    const result = await this.#pool(database).query(
      `UPDATE ${quote(schema)}.berth_outbox SET next_attempt_at = now()
       WHERE id = $1 AND delivered_at IS NULL AND next_attempt_at = 'infinity'`,
      [id],
    );
    if (result.rowCount === 0) throw new HttpError(404, `no parked event ${id} in ${schema}.berth_outbox`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.end()));
    this.#pools.clear();
  }
}
