/**
 * PGlite served over the Postgres wire protocol on 127.0.0.1, as `berth run` does for
 * the embedded mode, with a `pg` Pool connected to it: the outbox and dedupe helpers
 * are exercised through the same client they get in production.
 */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';

export interface PgliteServer {
  readonly pool: pg.Pool;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startPgliteServer(): Promise<PgliteServer> {
  const db = new PGlite();
  await db.waitReady;
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
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
