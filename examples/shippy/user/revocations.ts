/**
 * Tokens revoked by Logout, by `jti`, in the database so that every replica refuses
 * them at once (a per-process list would leave the token valid on the others). A
 * row is needed only until the token's own expiry, after which the signature check
 * refuses it anyway; each Logout prunes the rows past that point.
 */
import type { Migration } from 'berth/store';
import { qualify } from 'berth/store';
import type pg from 'pg';
import type { TokenClaims } from './tokens.ts';

export const revocationsMigration: Migration = {
  id: '003_revoked_tokens',
  sql: `CREATE TABLE revoked_tokens (
    jti text PRIMARY KEY,
    expires_at timestamptz NOT NULL
  );
  CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at)`,
};

export class Revocations {
  readonly #pool: pg.Pool;
  readonly #table: string;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#table = qualify(schema, 'revoked_tokens');
  }

  /** Records the token as revoked (again is a no-op) and forgets revocations that have expired. */
  async revoke(claims: TokenClaims): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#table} (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING`,
      [claims.tokenId, claims.expiresAt],
    );
    await this.#pool.query(`DELETE FROM ${this.#table} WHERE expires_at < now()`);
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query(`SELECT 1 FROM ${this.#table} WHERE jti = $1`, [tokenId]);
    return (rowCount ?? 0) > 0;
  }
}
