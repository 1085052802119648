/**
 * Greetings per name in Postgres, in the service's own schema (`databaseSchema`):
 * every table name is qualified, as the schemas of a system share one database.
 */
import { type Migration, qualify, type SqlClient } from 'berth/store';
import type { GreetingCounter } from './handlers.ts';

/** Applied in order at start, once each (recorded in <schema>.berth_migrations); append, never edit. */
export const migrations: readonly Migration[] = [
  {
    id: '001_greetings',
    sql: `CREATE TABLE greetings (
      name text PRIMARY KEY,
      count integer NOT NULL,
      last_greeted_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
];

export class GreetingCounts implements GreetingCounter {
  readonly #db: SqlClient;
  readonly #greetings: string;

  constructor(db: SqlClient, schema: string) {
    this.#db = db;
    this.#greetings = qualify(schema, 'greetings');
  }

  async record(name: string): Promise<number> {
    const { rows } = await this.#db.query<{ count: number }>(
      `INSERT INTO ${this.#greetings} AS g (name, count) VALUES ($1, 1)
       ON CONFLICT (name) DO UPDATE SET count = g.count + 1, last_greeted_at = now()
       RETURNING count`,
      [name],
    );
    return rows[0]!.count;
  }
}
