/**
 * Transactional outbox: how a service publishes "at least once" without two-phase
 * commit. The event row is written in the same database transaction as the state
 * change it announces (`enqueue`), so both exist or neither does. A relay then
 * publishes pending rows through the Broker and marks them delivered, retrying with
 * capped exponential backoff while the broker or a subscriber is down.
 *
 *   service tx: INSERT user ...; enqueue(tx, 'user.created', …); COMMIT; relay.wake()
 *   relay:      claim due rows (FOR UPDATE SKIP LOCKED) → broker.publish → delivered | retry later
 *
 * Claiming is one statement that pushes the claimed rows' `next_attempt_at` forward
 * by a lease and commits at once, instead of holding row locks (and a pooled
 * connection) across network publishes. SKIP LOCKED keeps relays of several replicas
 * from claiming the same rows at the same instant; the lease keeps them off rows
 * in flight; a relay that dies mid-publish leaves rows that become due again when
 * the lease ends. Duplicates are possible (at least once): consumers drop them by
 * event id (dedupe.ts).
 */
import { randomUUID } from 'node:crypto';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import { qualify, quoteIdent, type SqlClient } from '../store/sql.ts';
import type { Broker, PublishInput } from './broker.ts';
import { withActiveTraceContext } from './event-tracing.ts';
import { checkTopic } from './names.ts';

const table = 'berth_outbox';

/** Creates the outbox table and its index if they do not exist. Safe to run on every start. */
export async function ensureOutboxTable(db: SqlClient, schema?: string): Promise<void> {
  const name = qualify(schema, table);
  if (schema) await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${name} (
    id text PRIMARY KEY,
    topic text NOT NULL,
    data jsonb,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    delivered_at timestamptz
  )`);
  await db.query(
    `CREATE INDEX IF NOT EXISTS berth_outbox_pending ON ${name} (next_attempt_at) WHERE delivered_at IS NULL`,
  );
}

export interface EnqueueOptions {
  readonly schema?: string;
}

/**
 * Writes an event to the outbox on `tx`, which must be the connection running the
 * caller's transaction. Returns the event id (input.id, or a new UUID). Call
 * `relay.wake()` after COMMIT for immediate delivery. The active trace context is
 * stored in the row's headers, beside `input.headers`, so the relay's publish,
 * however much later, belongs to the trace of the request that enqueued it.
 */
export async function enqueue(
  tx: SqlClient,
  topic: string,
  input: PublishInput,
  options: EnqueueOptions = {},
): Promise<string> {
  checkTopic(topic);
  const id = input.id ?? randomUUID();
  const headers = await withActiveTraceContext(input.headers);
  await tx.query(
    `INSERT INTO ${qualify(options.schema, table)} (id, topic, data, headers) VALUES ($1, $2, $3::jsonb, $4::jsonb)`,
    [id, topic, JSON.stringify(input.data ?? null), JSON.stringify(headers)],
  );
  return id;
}

export interface OutboxRelayOptions {
  /** Pool or connection the outbox table lives in (`pg.Pool` is the usual choice). */
  readonly db: SqlClient;
  readonly broker: Broker;
  readonly logger?: Logger;
  readonly schema?: string;
  /** Rows claimed per round. Default 16. */
  readonly batchSize?: number;
  /** How often to look for rows nobody woke the relay for (other replicas, retries). Default 1 s. */
  readonly pollIntervalMs?: number;
  /** First retry delay; doubles per attempt up to `maxBackoffMs`. Defaults 100 ms and 5 s. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long a claimed row stays hidden from other relays; also bounds one publish. Default 30 s. */
  readonly leaseMs?: number;
  /** Delivered rows are deleted after this long. Default 24 h. */
  readonly retainDeliveredMs?: number;
}

interface OutboxRow {
  id: string;
  topic: string;
  data: unknown;
  headers: Record<string, string> | null;
  created_at: Date | string;
  attempts: number;
}

const relayDefaults = {
  batchSize: 16,
  pollIntervalMs: 1000,
  minBackoffMs: 100,
  maxBackoffMs: 5000,
  leaseMs: 30_000,
  retainDeliveredMs: 24 * 60 * 60 * 1000,
  pruneEveryMs: 60_000,
};

/**
 * Publishes outbox rows. Starts when constructed; `close()` stops it after the batch
 * in flight (rows claimed but not yet attempted are released for other relays).
 * Owns neither the database nor the broker.
 */
export class OutboxRelay {
  readonly #db: SqlClient;
  readonly #broker: Broker;
  readonly #logger: Logger;
  readonly #table: string;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #leaseMs: number;
  readonly #retainDeliveredMs: number;
  #closed = false;
  #woken = false;
  #wakeSleeper: (() => void) | undefined;
  #lastPrune = 0;
  readonly #running: Promise<void>;

  constructor(options: OutboxRelayOptions) {
    this.#db = options.db;
    this.#broker = options.broker;
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'outbox-relay' });
    this.#table = qualify(options.schema, table);
    this.#batchSize = options.batchSize ?? relayDefaults.batchSize;
    this.#pollIntervalMs = options.pollIntervalMs ?? relayDefaults.pollIntervalMs;
    this.#minBackoffMs = options.minBackoffMs ?? relayDefaults.minBackoffMs;
    this.#maxBackoffMs = options.maxBackoffMs ?? relayDefaults.maxBackoffMs;
    this.#leaseMs = options.leaseMs ?? relayDefaults.leaseMs;
    this.#retainDeliveredMs = options.retainDeliveredMs ?? relayDefaults.retainDeliveredMs;
    this.#running = this.#loop();
  }

  /** Look for pending rows now, e.g. right after committing a transaction that enqueued one. */
  wake(): void {
    this.#woken = true;
    this.#wakeSleeper?.();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeSleeper?.();
    await this.#running;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #loop(): Promise<void> {
    let dbFailures = 0;
    while (!this.#closed) {
      this.#woken = false;
      let delay = this.#pollIntervalMs;
      try {
        const { claimed, soonestRetryMs } = await this.#round();
        dbFailures = 0;
        if (claimed === this.#batchSize) delay = 0;
        else if (soonestRetryMs !== undefined) delay = Math.min(delay, soonestRetryMs);
        await this.#maybePrune();
      } catch (error) {
        dbFailures += 1;
        delay = this.#backoff(dbFailures);
        this.#logger.warn({ err: error, retryInMs: delay }, 'outbox relay could not read the outbox');
      }
      if (this.#closed) break;
      if (this.#woken || delay === 0) continue;
      await this.#sleep(delay);
    }
  }

  async #round(): Promise<{ claimed: number; soonestRetryMs: number | undefined }> {
    const { rows } = await this.#db.query<OutboxRow>(
      `UPDATE ${this.#table} SET next_attempt_at = now() + $2::integer * interval '1 millisecond'
       WHERE id IN (
         SELECT id FROM ${this.#table}
         WHERE delivered_at IS NULL AND next_attempt_at <= now()
         ORDER BY created_at, id
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
       RETURNING id, topic, data, headers, created_at, attempts`,
      [this.#batchSize, this.#leaseMs],
    );
    rows.sort((a, b) => new Date(a.created_at).getTime() - new Date(b.created_at).getTime());
    let soonestRetryMs: number | undefined;
    for (const [index, row] of rows.entries()) {
      if (this.#closed) {
        await this.#release(rows.slice(index));
        break;
      }
      const retryMs = await this.#publish(row);
      if (retryMs !== undefined) soonestRetryMs = Math.min(soonestRetryMs ?? retryMs, retryMs);
    }
    return { claimed: rows.length, soonestRetryMs };
  }

  /** Publishes one row; returns the retry delay when it failed. */
  async #publish(row: OutboxRow): Promise<number | undefined> {
    try {
      await this.#broker.publish(
        row.topic,
        {
          id: row.id,
          data: row.data,
          headers: row.headers ?? {},
          publishedAt: new Date(row.created_at).toISOString(),
        },
        AbortSignal.timeout(Math.max(1000, this.#leaseMs - 1000)),
      );
    } catch (error) {
      const attempts = row.attempts + 1;
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof ConnectError && error.code === Code.InvalidArgument) {
        // No retry can publish it (too large, not serialisable): keep it, with its error, out of the queue.
        await this.#db.query(
          `UPDATE ${this.#table} SET attempts = attempts + 1, last_error = $2, next_attempt_at = 'infinity' WHERE id = $1`,
          [row.id, reason],
        );
        this.#logger.error(
          { eventId: row.id, topic: row.topic, reason },
          `outbox event can never be published; kept in ${this.#table} with its error (fix it, then set next_attempt_at = now() to retry)`,
        );
        return undefined;
      }
      const retryMs = this.#backoff(attempts);
      await this.#db.query(
        `UPDATE ${this.#table}
         SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() + $3::integer * interval '1 millisecond'
         WHERE id = $1`,
        [row.id, reason, retryMs],
      );
      // Every failure is logged, loudly for the first few and then every tenth.
      const level = attempts <= 3 || attempts % 10 === 0 ? 'warn' : 'debug';
      this.#logger[level](
        { eventId: row.id, topic: row.topic, attempts, retryInMs: retryMs, reason },
        'outbox publish failed; will retry',
      );
      return retryMs;
    }
    await this.#db.query(
      `UPDATE ${this.#table} SET attempts = attempts + 1, last_error = NULL, delivered_at = now() WHERE id = $1`,
      [row.id],
    );
    return undefined;
  }

  /** Makes claimed rows due again at once so another relay need not wait out the lease. */
  async #release(rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#db.query(`UPDATE ${this.#table} SET next_attempt_at = now() WHERE id = ANY($1::text[])`, [
      rows.map((row) => row.id),
    ]);
  }

  async #maybePrune(): Promise<void> {
    if (Date.now() - this.#lastPrune < relayDefaults.pruneEveryMs) return;
    this.#lastPrune = Date.now();
    await this.#db.query(
      `DELETE FROM ${this.#table} WHERE delivered_at < now() - $1::bigint * interval '1 millisecond'`,
      [this.#retainDeliveredMs],
    );
  }

  #backoff(attempt: number): number {
    const base = Math.min(this.#maxBackoffMs, this.#minBackoffMs * 2 ** Math.min(attempt - 1, 30));
    // ±20 % jitter so replicas retrying the same failure spread out.
    return Math.round(Math.min(this.#maxBackoffMs, base * (0.8 + Math.random() * 0.4)));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleeper = () => {
        this.#wakeSleeper = undefined;
        done();
      };
    });
  }
}
