/**
 * Vessels in Postgres, schema `vessel` (configurable). `seq` records insertion
 * order, so "the first available vessel" is the same answer on every call.
 * `used_capacity` and `used_weight` are what reservations (reservations.ts) have
 * booked; a CHECK keeps them within the vessel's limits whatever the code does.
 */

import type { Migration } from 'berth/store';
import { qualify } from 'berth/store';
import type pg from 'pg';
import type { PageStart } from '../configs/pagination.ts';

export interface VesselRecord {
  readonly id: string;
  readonly name: string;
  readonly capacity: number;
  readonly maxWeight: number;
  readonly available: boolean;
  readonly ownerId: string;
  readonly usedCapacity: number;
  readonly usedWeight: number;
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
  {
    // Capacity and max weight become limits that bookings use up. Consignments
    // stored before this version are not counted: they live in another service's schema.
    id: '003_load_and_reservations',
    sql: `ALTER TABLE vessels
      ADD COLUMN used_capacity integer NOT NULL DEFAULT 0,
      ADD COLUMN used_weight integer NOT NULL DEFAULT 0,
      ADD CONSTRAINT vessels_load_within_limits
        CHECK (used_capacity BETWEEN 0 AND capacity AND used_weight BETWEEN 0 AND max_weight);
    CREATE TABLE reservations (
      consignment_id text PRIMARY KEY,
      vessel_id text NOT NULL REFERENCES vessels (id),
      user_id text NOT NULL,
      containers integer NOT NULL CHECK (containers > 0),
      weight integer NOT NULL CHECK (weight > 0),
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
];

export const vesselColumns =
  'id, seq, name, capacity, max_weight, available, owner_id, used_capacity, used_weight';

export interface VesselRow {
  id: string;
  seq: string;
  name: string;
  capacity: number;
  max_weight: number;
  available: boolean;
  owner_id: string;
  used_capacity: number;
  used_weight: number;
}

export function toRecord(row: VesselRow): VesselRecord {
  return {
    id: row.id,
    name: row.name,
    capacity: row.capacity,
    maxWeight: row.max_weight,
    available: row.available,
    ownerId: row.owner_id,
    usedCapacity: row.used_capacity,
    usedWeight: row.used_weight,
  };
}

export class VesselRepository {
  readonly #pool: pg.Pool;
  readonly #vessels: string;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#vessels = qualify(schema, 'vessels');
  }

  /** Inserts `vessel` (with nothing booked); false when its id is taken. */
  async insert(vessel: Omit<VesselRecord, 'usedCapacity' | 'usedWeight'>): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      `INSERT INTO ${this.#vessels} (id, name, capacity, max_weight, available, owner_id)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
      [vessel.id, vessel.name, vessel.capacity, vessel.maxWeight, vessel.available, vessel.ownerId],
    );
    return rowCount === 1;
  }

  /** The first available vessel (in insertion order) with this many containers and kg still free. */
  async findAvailable(containers: number, weight: number): Promise<VesselRecord | undefined> {
    const { rows } = await this.#pool.query<VesselRow>(
      `SELECT ${vesselColumns} FROM ${this.#vessels}
       WHERE available AND capacity - used_capacity >= $1 AND max_weight - used_weight >= $2
       ORDER BY seq LIMIT 1`,
      [containers, weight],
    );
    return rows[0] && toRecord(rows[0]);
  }

  /** One page of vessels in insertion order: up to `size + 1` rows after `after`. */
  async list(page: PageStart): Promise<VesselRow[]> {
    const { rows } = await this.#pool.query<VesselRow>(
      `SELECT ${vesselColumns} FROM ${this.#vessels}
       WHERE $1::bigint IS NULL OR seq > $1::bigint ORDER BY seq LIMIT $2`,
      [page.after?.toString() ?? null, page.size + 1],
    );
    return rows;
  }
}
