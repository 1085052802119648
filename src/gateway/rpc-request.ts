/**
 * Parsing what reaches the gateway into "call method M of service S with this
 * JSON", in micro api's two forms:
 *  - `POST /rpc` with `{"service", "method", "request"}` (micro api --handler=rpc);
 *  - `POST /<service>/<object>/<method>` with the request as the body
 *    (micro's path resolver: `/vessel/vesselService/findAvailable` calls
 *    `VesselService.FindAvailable` of `vessel`).
 * Both take JSON only, and no deeper than maxJsonDepth.
 */
import { Code, ConnectError } from '../errors/berth-error.ts';
import { maxJsonDepth, nestsDeeperThan } from './json-depth.ts';

export interface RpcTarget {
  readonly service: string;
  /** `VesselService.Create` */
  readonly method: string;
  /** The request message as proto3 JSON text. */
  readonly requestJson: string;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

const tooDeep = () => invalid(`request nests deeper than ${maxJsonDepth} levels`);

/**
 * `application/json` in any case, with or without parameters (`; charset=utf-8`).
 * Requiring it is what makes a cross-site call need a CORS preflight: a page may
 * POST text/plain or a form anywhere without asking first.
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const end = contentType.indexOf(';');
  return (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase() === 'application/json';
}

/** The error for a POST to `/rpc` or a path route that is not `application/json`. */
export function unsupportedContentType(contentType: string | undefined, path: string): ConnectError {
  const got = contentType === undefined ? 'no content type' : `content type "${contentType}"`;
  return invalid(`POST ${path} takes application/json, not ${got}`);
}

export function parseRpcBody(body: Buffer): RpcTarget {
  if (body.length === 0) throw invalid('missing request body: expected {"service", "method", "request"}');
  // The envelope {"service", "method", "request"} is one level of its own.
  if (nestsDeeperThan(body, maxJsonDepth + 1)) throw tooDeep();
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw invalid(`request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('request body must be a JSON object {"service", "method", "request"}');
  }
  const { service, method, request } = parsed as Record<string, unknown>;
  if (typeof service !== 'string' || service === '') throw invalid('"service" must be a non-empty string');
  if (typeof method !== 'string' || !/^[A-Za-z_][\w]*\.[A-Za-z_]\w*$/.test(method)) {
    throw invalid('"method" must look like "Service.Method", e.g. "VesselService.Create"');
  }
  let requestJson: string;
  if (request === undefined || request === null) requestJson = '{}';
  else if (typeof request === 'string') {
    // micro accepted the request as a JSON string too.
    if (nestsDeeperThan(Buffer.from(request), maxJsonDepth)) throw tooDeep();
    try {
      const inner = JSON.parse(request) as unknown;
      if (typeof inner !== 'object' || inner === null || Array.isArray(inner))
        throw new Error('not an object');
      requestJson = request;
    } catch {
      throw invalid('"request" must be a JSON object (or a string holding one)');
    }
  } else if (typeof request === 'object' && !Array.isArray(request)) requestJson = JSON.stringify(request);
  else throw invalid('"request" must be a JSON object');
  return { service, method, requestJson };
}

/** The body of a path route: the request message itself, `{}` when empty. */
export function routeRequestJson(body: Buffer): Buffer | string {
  if (body.length === 0) return '{}';
  if (nestsDeeperThan(body, maxJsonDepth)) throw tooDeep();
  return body;
}

const camel = (segment: string) => segment.charAt(0).toUpperCase() + segment.slice(1);

/** `/vessel/vesselService/findAvailable` → service `vessel`, method `VesselService.FindAvailable`. */
export function parseRoutePath(path: string): { service: string; method: string } | undefined {
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments.length < 3) return undefined;
  if (!segments.every((segment) => /^[A-Za-z_][\w-]*$/.test(segment))) return undefined;
  const method = segments.at(-1)!;
  const object = segments.at(-2)!;
  return { service: segments.slice(0, -2).join('.'), method: `${camel(object)}.${camel(method)}` };
}

/** Proto paths (`/pkg.Service/Method`) are passed through to the service as they are. */
export function parseProtoPath(path: string): { protoService: string; method: string } | undefined {
  const match = /^\/([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+)\/([A-Za-z_]\w*)$/.exec(path);
  return match ? { protoService: match[1], method: match[2] } : undefined;
}
