/** Where a PostgreSQL connection URL points: never its user or password. */

export interface DatabaseEndpoint {
  readonly host: string;
  readonly port: number;
  /** The database named in the path; undefined when the URL names none (pg then uses the user's name). */
  readonly database: string | undefined;
}

/** The endpoint of `url`, or undefined when it is not a URL. */
export function databaseEndpoint(url: string): DatabaseEndpoint | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  // A Unix socket folder comes as `?host=/run/postgresql`, without a host in the authority.
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
  const database = decodeURIComponent(parsed.pathname.slice(1));
  return {
    host: decodeURIComponent(host),
    port: Number(parsed.port || parsed.searchParams.get('port') || 5432),
    database: database === '' ? undefined : database,
  };
}
