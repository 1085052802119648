/**
 * PGlite served over the Postgres wire protocol on 127.0.0.1, as `berth run` does for
 * the embedded mode, with a `pg` Pool connected to it: the outbox and dedupe helpers
 * are exercised through the same client they get in production.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { silentLogger } from '../../src/log/logger.ts';
import { PgWireServer } from '../../src/runner/pg-wire-server.ts';

export interface PgliteServer {
  readonly pool: pg.Pool;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startPgliteServer(): Promise<PgliteServer> {
  const db = new PGlite();
  await db.waitReady;
  // The runner's own server: it keeps one client's extended-protocol exchange and
  // transaction together on PGlite's single session, which pglite-socket does not.
  const server = new PgWireServer({
    db,
    host: '127.0.0.1',
    port: 0,
    maxConnections: 16,
    logger: silentLogger(),
  });
  const url = `postgres://postgres@${await server.start()}/postgres`;
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  return {
    pool,
    url,
    async stop() {
      await pool.end();
      await server.stop();
      await db.close();
    },
  };
}
