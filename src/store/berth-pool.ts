/**
 * The pg Pool createPool returns, with what berth adds to every query, whether it
 * runs through `Pool.query` or on a lent client (a transaction):
 *  - errors mapped to berth's (database-errors.ts), of queries, connections and lent clients;
 *  - a CLIENT span per query (query-spans.ts), child of the caller's span: for
 *    `Pool.query` from the wait for a connection on, and not again for the pooled
 *    client's query it runs.
 */
import pg from 'pg';
import { loadedOpenTelemetry } from '../telemetry/opentelemetry-api.ts';
import { mappingErrors } from './database-errors.ts';
import { type QueryTracing, tracedClientQuery, tracedPoolQuery } from './query-spans.ts';

/** A pool for `config`, naming `server` (`host:port`) in its errors and tracing its queries as `tracing` says. */
export function berthPool(config: pg.PoolConfig, server: string, tracing: QueryTracing): pg.Pool {
  class BerthClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: pg's query takes a callback or returns a promise, overloaded
    override query(...args: any[]): any {
      return tracedClientQuery(tracing, args, (...traced) =>
        mappingErrors(server, traced, (...given) => super.query(...(given as [string]))),
      );
    }
  }
  class BerthPool extends pg.Pool {
    // biome-ignore lint/suspicious/noExplicitAny: see BerthClient.query
    override query(...args: any[]): any {
      return tracedPoolQuery(tracing, args, (...traced) =>
        mappingErrors(server, traced, (...given) => super.query(...(given as [string]))),
      );
    }

    // biome-ignore lint/suspicious/noExplicitAny: see BerthClient.query
    override connect(...args: any[]): any {
      // Pool.query waits here for a free client. The waiter's callback runs when another
      // caller releases one, in that caller's context: bound to the waiter's own, the
      // pooled client's query knows it belongs to this Pool.query (one span, not two).
      // (Pool.query waits for the API to load before it gets here, so loaded is enough.)
      const last = args.length - 1;
      const api = loadedOpenTelemetry();
      if (api && typeof args[last] === 'function')
        args[last] = api.context.bind(api.context.active(), args[last]);
      return mappingErrors(server, args, (...given) => super.connect(...(given as [])));
    }
  }
  return new BerthPool({ ...config, Client: BerthClient });
}
