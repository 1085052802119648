/**
 * Consignments and their containers in Postgres, schema `consignment`
 * (configurable). A consignment and its containers are written in one
 * transaction. The vessel's name is stored with the consignment when it is
 * assigned, so listing needs no call to the vessel service.
 */

import type { Migration } from 'berth/store';
import { qualify, withTransaction } from 'berth/store';
import type pg from 'pg';
import type { PageStart } from '../configs/pagination.ts';

export interface ContainerRecord {
  readonly id: string;
  readonly customerId: string;
  readonly origin: string;
  readonly userId: string;
}

export interface ConsignmentRecord {
  readonly id: string;
  /** Whose it is: the user the creating request's token belonged to. */
  readonly userId: string;
  readonly description: string;
  readonly weight: number;
  readonly vesselId: string;
  readonly vesselName: string;
  /** RFC 3339. */
  readonly createdAt: string;
  containers: ContainerRecord[];
}

export const migrations: readonly Migration[] = [
  {
    id: '001_consignments',
    sql: `CREATE TABLE consignments (
      id text PRIMARY KEY,
      seq bigserial NOT NULL UNIQUE,
      user_id text NOT NULL,
      description text NOT NULL DEFAULT '',
      weight integer NOT NULL CHECK (weight > 0),
      vessel_id text NOT NULL,
      vessel_name text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX consignments_by_user ON consignments (user_id, seq);
    CREATE TABLE containers (
      consignment_id text NOT NULL REFERENCES consignments (id) ON DELETE CASCADE,
      position integer NOT NULL,
      id text NOT NULL,
      customer_id text NOT NULL DEFAULT '',
      origin text NOT NULL DEFAULT '',
      user_id text NOT NULL DEFAULT '',
      PRIMARY KEY (consignment_id, position)
    )`,
  },
];

interface ConsignmentRow {
  id: string;
  seq: string;
  created_at: Date;
  user_id: string;
  description: string;
  weight: number;
  vessel_id: string;
  vessel_name: string;
}

interface ContainerRow {
  consignment_id: string;
  id: string;
  customer_id: string;
  origin: string;
  user_id: string;
}

const consignmentColumns = 'id, user_id, description, weight, vessel_id, vessel_name, created_at';
const selectedColumns = `seq, ${consignmentColumns}`;

export class ConsignmentRepository {
  readonly #pool: pg.Pool;
  readonly #consignments: string;
  readonly #containers: string;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#consignments = qualify(schema, 'consignments');
    this.#containers = qualify(schema, 'containers');
  }

  /** Stores the consignment with its containers; false (and nothing written) when its id exists. */
  async insert(consignment: ConsignmentRecord): Promise<boolean> {
    return withTransaction(this.#pool, async (tx) => {
      const { rowCount } = await tx.query(
        `INSERT INTO ${this.#consignments} (${consignmentColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO NOTHING`,
        [
          consignment.id,
          consignment.userId,
          consignment.description,
          consignment.weight,
          consignment.vesselId,
          consignment.vesselName,
          consignment.createdAt,
        ],
      );
      if (rowCount !== 1) return false;
      const { containers } = consignment;
      // One statement for all containers (up to 1000): arrays, unnested server-side.
      await tx.query(
        `INSERT INTO ${this.#containers} (consignment_id, position, id, customer_id, origin, user_id)
         SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::text[], $5::text[], $6::text[])`,
        [
          consignment.id,
          containers.map((_, position) => position),
          containers.map((c) => c.id),
          containers.map((c) => c.customerId),
          containers.map((c) => c.origin),
          containers.map((c) => c.userId),
        ],
      );
      return true;
    });
  }

  async byId(id: string): Promise<ConsignmentRecord | undefined> {
    const { rows } = await this.#pool.query<ConsignmentRow>(
      `SELECT ${selectedColumns} FROM ${this.#consignments} WHERE id = $1`,
      [id],
    );
    return (await this.#withContainers(rows))[0]?.record;
  }

  /**
   * One page of the user's consignments, newest first: up to `size + 1` booked
   * before `after` (each with its `seq`, the position a next page starts from).
   */
  async byUser(userId: string, page: PageStart): Promise<Array<{ seq: string; record: ConsignmentRecord }>> {
    const { rows } = await this.#pool.query<ConsignmentRow>(
      `SELECT ${selectedColumns} FROM ${this.#consignments}
       WHERE user_id = $1 AND ($2::bigint IS NULL OR seq < $2::bigint) ORDER BY seq DESC LIMIT $3`,
      [userId, page.after?.toString() ?? null, page.size + 1],
    );
    return this.#withContainers(rows);
  }

  async #withContainers(rows: ConsignmentRow[]): Promise<Array<{ seq: string; record: ConsignmentRecord }>> {
    if (rows.length === 0) return [];
    const { rows: containerRows } = await this.#pool.query<ContainerRow>(
      `SELECT consignment_id, id, customer_id, origin, user_id FROM ${this.#containers}
       WHERE consignment_id = ANY($1::text[]) ORDER BY consignment_id, position`,
      [rows.map((row) => row.id)],
    );
    const byConsignment = new Map<string, ContainerRecord[]>();
    for (const row of containerRows) {
      const list = byConsignment.get(row.consignment_id) ?? [];
      byConsignment.set(row.consignment_id, list);
      list.push({ id: row.id, customerId: row.customer_id, origin: row.origin, userId: row.user_id });
    }
    return rows.map((row) => ({
      seq: row.seq,
      record: {
        id: row.id,
        userId: row.user_id,
        description: row.description,
        weight: row.weight,
        vesselId: row.vessel_id,
        vesselName: row.vessel_name,
        createdAt: row.created_at.toISOString(),
        containers: byConsignment.get(row.id) ?? [],
      },
    }));
  }
}
