/**
 * Booking room on vessels. A reservation (keyed by consignment id) adds its
 * containers and kg to one vessel's `used_capacity` and `used_weight`, in the same
 * transaction that records it, so the two never disagree.
 *
 * Safe under concurrent calls on PostgreSQL and PGlite alike: the booking is one
 * conditional UPDATE (`... WHERE capacity - used_capacity >= $n`), which PostgreSQL
 * re-checks against the latest row after waiting for a competing booking of the
 * same vessel, so two bookings never both take the last space. If the competitor
 * took it, the vessel is chosen again. Calls for the same consignment id queue
 * behind a transaction-scoped advisory lock, so a retry racing the original books
 * once. (PGlite is one session and runs one transaction at a time anyway.)
 */

import { qualify, type SqlClient, withTransaction } from 'berth/store';
import type pg from 'pg';
import { toRecord, type VesselRecord, type VesselRow, vesselColumns } from './repository.ts';

export interface Reservation {
  readonly consignmentId: string;
  /** Who booked it: only they can see or release it. */
  readonly userId: string;
  readonly containers: number;
  /** kg */
  readonly weight: number;
}

export type ReserveOutcome =
  /** `booked`: room taken now; `existing`: this consignment id had a reservation already. */
  | { readonly kind: 'booked' | 'existing'; readonly vessel: VesselRecord; readonly reservation: Reservation }
  /** No available vessel has the room; `mostRoom` is the closest one's free room, if any vessel is available. */
  | { readonly kind: 'no-room'; readonly mostRoom: { containers: number; weight: number } | undefined };

type ReservedRow = VesselRow & { user_id: string; containers: number; weight: number };

/**
 * Competing bookings that each take the vessel this one chose before it can: every
 * lost round means another booking succeeded, so this bounds nothing in practice.
 */
const maxRounds = 100;

export class Reservations {
  readonly #pool: pg.Pool;
  readonly #vessels: string;
  readonly #reservations: string;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#vessels = qualify(schema, 'vessels');
    this.#reservations = qualify(schema, 'reservations');
  }

  async reserve(wanted: Reservation): Promise<ReserveOutcome> {
    return withTransaction(this.#pool, async (tx) => {
      await this.#lock(tx, wanted.consignmentId);
      const { rows: existing } = await tx.query<ReservedRow>(
        `SELECT r.user_id, r.containers, r.weight, ${prefixed('v')} FROM ${this.#reservations} r
         JOIN ${this.#vessels} v ON v.id = r.vessel_id WHERE r.consignment_id = $1`,
        [wanted.consignmentId],
      );
      const row = existing[0];
      if (row) {
        const reservation = {
          consignmentId: wanted.consignmentId,
          userId: row.user_id,
          containers: row.containers,
          weight: row.weight,
        };
        return { kind: 'existing', vessel: toRecord(row), reservation };
      }
      for (let round = 0; round < maxRounds; round += 1) {
        const candidate = await this.#firstWithRoom(tx, wanted);
        if (!candidate) return { kind: 'no-room', mostRoom: await this.#mostRoom(tx, wanted) };
        const { rows } = await tx.query<VesselRow>(
          `UPDATE ${this.#vessels}
           SET used_capacity = used_capacity + $2, used_weight = used_weight + $3
           WHERE id = $1 AND available AND capacity - used_capacity >= $2 AND max_weight - used_weight >= $3
           RETURNING ${vesselColumns}`,
          [candidate, wanted.containers, wanted.weight],
        );
        if (!rows[0]) continue; // a concurrent booking took the room first: choose again
        await tx.query(
          `INSERT INTO ${this.#reservations} (consignment_id, vessel_id, user_id, containers, weight)
           VALUES ($1, $2, $3, $4, $5)`,
          [wanted.consignmentId, candidate, wanted.userId, wanted.containers, wanted.weight],
        );
        return { kind: 'booked', vessel: toRecord(rows[0]), reservation: wanted };
      }
      throw new Error(
        `vessel choice lost ${maxRounds} races in a row for consignment ${wanted.consignmentId}`,
      );
    });
  }

  /** Gives `userId`'s reservation of `consignmentId` back; false when there was none (already released). */
  async release(consignmentId: string, userId: string): Promise<boolean> {
    return withTransaction(this.#pool, async (tx) => {
      await this.#lock(tx, consignmentId);
      const { rowCount } = await tx.query(
        `WITH released AS (
           DELETE FROM ${this.#reservations} WHERE consignment_id = $1 AND user_id = $2
           RETURNING vessel_id, containers, weight
         )
         UPDATE ${this.#vessels} v
         SET used_capacity = v.used_capacity - r.containers, used_weight = v.used_weight - r.weight
         FROM released r WHERE v.id = r.vessel_id`,
        [consignmentId, userId],
      );
      return rowCount === 1;
    });
  }

  /** Serialises calls for one consignment id until the transaction ends. */
  async #lock(tx: SqlClient, consignmentId: string): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('shippy.vessel.reservation'), hashtext($1))`, [
      consignmentId,
    ]);
  }

  async #firstWithRoom(tx: SqlClient, wanted: Reservation): Promise<string | undefined> {
    const { rows } = await tx.query<{ id: string }>(
      `SELECT id FROM ${this.#vessels}
       WHERE available AND capacity - used_capacity >= $1 AND max_weight - used_weight >= $2
       ORDER BY seq LIMIT 1`,
      [wanted.containers, wanted.weight],
    );
    return rows[0]?.id;
  }

  /**
   * The free room of the available vessel that could carry the largest share of
   * `wanted` (the smaller of its container and weight shares), then the most kg.
   */
  async #mostRoom(
    tx: SqlClient,
    wanted: Reservation,
  ): Promise<{ containers: number; weight: number } | undefined> {
    const { rows } = await tx.query<{ containers: number; weight: number }>(
      `SELECT capacity - used_capacity AS containers, max_weight - used_weight AS weight FROM ${this.#vessels}
       WHERE available
       ORDER BY LEAST((capacity - used_capacity)::float8 / $1, (max_weight - used_weight)::float8 / $2) DESC,
         max_weight - used_weight DESC, capacity - used_capacity DESC, seq
       LIMIT 1`,
      [wanted.containers, wanted.weight],
    );
    return rows[0];
  }
}

function prefixed(alias: string): string {
  return vesselColumns
    .split(', ')
    .map((column) => `${alias}.${column}`)
    .join(', ');
}
