/**
 * Vessels in Postgres, schema `vessel` (configurable). `seq` records insertion
 * order, so "the first available vessel" is the same answer on every call.
 */

import type { Migration } from 'berth/store';
import { qualify } from 'berth/store';
import type pg from 'pg';

export interface VesselRecord {
  readonly id: string;
  readonly name: string;
  readonly capacity: number;
  readonly maxWeight: number;
  readonly available: boolean;
  readonly ownerId: string;
}

export const migrations: readonly Migration[] = [
  {
    id: '001_vessels',
    sql: `CREATE TABLE vessels (
      id text PRIMARY KEY,
      seq bigserial NOT NULL UNIQUE,
      name text NOT NULL,
      capacity integer NOT NULL CHECK (capacity > 0),
      max_weight integer NOT NULL CHECK (max_weight > 0),
      available boolean NOT NULL,
      owner_id text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX vessels_available ON vessels (seq) WHERE available`,
  },
  {
    // The vessel of the original shippy, there from the first start on (once: a
    // migration, so it does not come back if an operator removes it).
    id: '002_seed_kanes_salty_secret',
    sql: `INSERT INTO vessels (id, name, capacity, max_weight, available)
      VALUES ('vessel001', 'Kane''s Salty Secret', 500, 200000, true)
      ON CONFLICT (id) DO NOTHING`,
  },
];

const columns = 'id, name, capacity, max_weight, available, owner_id';

interface VesselRow {
  id: string;
  name: string;
  capacity: number;
  max_weight: number;
  available: boolean;
  owner_id: string;
}

function toRecord(row: VesselRow): VesselRecord {
  return {
    id: row.id,
    name: row.name,
    capacity: row.capacity,
    maxWeight: row.max_weight,
    available: row.available,
    ownerId: row.owner_id,
  };
}

export class VesselRepository {
  readonly #pool: pg.Pool;
  readonly #vessels: string;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#vessels = qualify(schema, 'vessels');
  }

  /** Inserts `vessel`; false when its id is taken. */
  async insert(vessel: VesselRecord): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      `INSERT INTO ${this.#vessels} (${columns}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
      [vessel.id, vessel.name, vessel.capacity, vessel.maxWeight, vessel.available, vessel.ownerId],
    );
    return rowCount === 1;
  }

  /** The first available vessel (in insertion order) with at least this capacity and max weight. */
  async findAvailable(capacity: number, maxWeight: number): Promise<VesselRecord | undefined> {
    const { rows } = await this.#pool.query<VesselRow>(
      `SELECT ${columns} FROM ${this.#vessels}
       WHERE available AND capacity >= $1 AND max_weight >= $2
       ORDER BY seq LIMIT 1`,
      [capacity, maxWeight],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async list(): Promise<VesselRecord[]> {
    const { rows } = await this.#pool.query<VesselRow>(
      `SELECT ${columns} FROM ${this.#vessels} ORDER BY seq`,
    );
    return rows.map(toRecord);
  }
}
