/** Names of calls in spans; no OpenTelemetry import, so callers load it whether tracing or not. */

/** `rpc.service` and `rpc.method` of a path `/<pkg>.<Service>/<Method>` (a GET's query dropped). */
export function rpcAttributes(path: string): { service: string; method: string } {
  const query = path.indexOf('?');
  const bare = query === -1 ? path : path.slice(0, query);
  const slash = bare.indexOf('/', 1);
  return { service: bare.slice(1, slash), method: bare.slice(slash + 1) };
}
