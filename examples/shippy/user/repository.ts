/**
 * Users in Postgres, schema `user` (configurable), and the outbox that announces
 * them: a new user row and its `user.created` event are written in one
 * transaction, so an event exists exactly for the users that exist.
 */
import { create, toJson } from '@bufbuild/protobuf';
import { enqueue, ensureOutboxTable } from 'berth/broker';
import type { Migration } from 'berth/store';
import { qualify, withTransaction } from 'berth/store';
import type pg from 'pg';
import type { PageStart } from '../configs/pagination.ts';
import { UserCreatedSchema } from '../gen/shippy/user/v1/user_pb.js';
import { revocationsMigration } from './revocations.ts';

export const userCreatedTopic = 'user.created';

export interface UserRecord {
  readonly id: string;
  readonly name: string;
  readonly company: string;
  readonly email: string;
}

export const migrations: readonly Migration[] = [
  {
    id: '001_users',
    sql: `CREATE TABLE users (
      id text PRIMARY KEY,
      seq bigserial NOT NULL UNIQUE,
      name text NOT NULL,
      company text NOT NULL DEFAULT '',
      email text NOT NULL UNIQUE,
      password_hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
  // Unqualified: migrations run with search_path set to this schema.
  { id: '002_outbox', run: (tx) => ensureOutboxTable(tx) },
  revocationsMigration,
];

const columns = 'id, name, company, email';
const uniqueViolation = '23505';

export class UserRepository {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #users: string;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#schema = schema;
    this.#users = qualify(schema, 'users');
  }

  /** Inserts the user and enqueues `user.created`; false when the email is taken. */
  async create(user: UserRecord, passwordHash: string): Promise<boolean> {
    try {
      await withTransaction(this.#pool, async (tx) => {
        await tx.query(
          `INSERT INTO ${this.#users} (id, name, company, email, password_hash) VALUES ($1, $2, $3, $4, $5)`,
          [user.id, user.name, user.company, user.email, passwordHash],
        );
        await enqueue(
          tx,
          userCreatedTopic,
          { data: toJson(UserCreatedSchema, create(UserCreatedSchema, user)) },
          { schema: this.#schema },
        );
      });
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === uniqueViolation) return false;
      throw error;
    }
  }

  async byEmail(email: string): Promise<(UserRecord & { passwordHash: string }) | undefined> {
    const { rows } = await this.#pool.query<UserRecord & { password_hash: string }>(
      `SELECT ${columns}, password_hash FROM ${this.#users} WHERE email = $1`,
      [email],
    );
    const row = rows[0];
    return (
      row && {
        id: row.id,
        name: row.name,
        company: row.company,
        email: row.email,
        passwordHash: row.password_hash,
      }
    );
  }

  async byId(id: string): Promise<UserRecord | undefined> {
    const { rows } = await this.#pool.query<UserRecord>(
      `SELECT ${columns} FROM ${this.#users} WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  /** A page of the users `viewerId` may see, which is themself only, in list order. */
  async visibleTo(viewerId: string, start: PageStart): Promise<Array<UserRecord & { seq: string }>> {
    const { rows } = await this.#pool.query<UserRecord & { seq: string }>(
      `SELECT seq, ${columns} FROM ${this.#users} WHERE id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [viewerId, String(start.after ?? 0n), start.size + 1],
    );
    return rows;
  }
}
