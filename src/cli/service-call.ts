/**
 * One call to a service of the system running on this machine, from outside it
 * (`berth call`): straight to an instance found in the local registry (balanced,
 * as a service's own client would), or through a gateway's /rpc. Whatever fails
 * comes back as the gateway answers it, `{id, code, detail, status}`, so the two
 * ways read the same.
 */
import { ServiceCaller } from '../client/caller.ts';
import { Code, ConnectError, codeName, codeToGatewayStatus } from '../errors/berth-error.ts';
import { contentTypeJson, decodeError } from '../protocol/connect-unary.ts';
import type { Registry } from '../registry/registry.ts';
import { RegistryCache } from '../registry/registry-cache.ts';
import { fetchFailure, servicesByName } from './local-system.ts';

/** The error body of micro's API (and berth's gateway): `code` is the HTTP status. */
export interface ErrorBody {
  readonly id: string;
  readonly code: number;
  readonly detail: string;
  readonly status: string;
}

export type Outcome =
  | { readonly ok: true; readonly json: string }
  | { readonly ok: false; readonly error: ErrorBody };

export interface CallRequest {
  readonly service: string;
  /** `Say.Hello`, or fully qualified: `greeter.v1.Say.Hello`. */
  readonly method: string;
  /** The request message as JSON text, as the user typed it; `{}` when absent. */
  readonly request: string | undefined;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number | undefined;
  readonly signal: AbortSignal;
}

/** A CallRequest whose request has been checked to be a JSON object. */
type Target = Omit<CallRequest, 'request'> & { readonly requestJson: string };

/**
 * Calls through the gateway at `via.gatewayUrl`, or else to an instance from
 * `via.registry`. Failures of the call come back as an Outcome; only errors
 * about something else (an unreadable registry folder) are thrown.
 */
export async function callService(
  request: CallRequest,
  via: { readonly gatewayUrl: string } | { readonly registry: Registry },
): Promise<Outcome> {
  try {
    const target: Target = { ...request, requestJson: parseRequest(request.request) };
    return 'gatewayUrl' in via
      ? await callViaGateway(via.gatewayUrl, target)
      : await callDirect(via.registry, target);
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    return { ok: false, error: errorBody(request.service, error) };
  }
}

function errorBody(id: string, error: ConnectError): ErrorBody {
  return {
    id,
    code: codeToGatewayStatus(error.code),
    detail: error.rawMessage,
    status: codeName(error.code),
  };
}

/** The request argument, checked to be a JSON object; a ConnectError names what is wrong. */
function parseRequest(raw: string | undefined): string {
  if (raw === undefined) return '{}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConnectError(
      `the request is not valid JSON: ${(error as Error).message}`,
      Code.InvalidArgument,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConnectError(
      `the request must be a JSON object, e.g. '{"name": "Ann"}'; got ${raw}`,
      Code.InvalidArgument,
    );
  }
  return raw;
}

async function callDirect(registry: Registry, target: Target): Promise<Outcome> {
  const cache = new RegistryCache(registry);
  await cache.start();
  const caller = new ServiceCaller({ cache });
  try {
    const instances = cache.instances(target.service);
    if (instances.length === 0) {
      const known = [...servicesByName(cache.all()).keys()];
      const hint = known.length > 0 ? `known services: ${known.join(', ')}` : 'no service is registered';
      throw new ConnectError(`unknown service "${target.service}"; ${hint}`, Code.NotFound);
    }
    const dot = target.method.lastIndexOf('.');
    const serviceName = target.method.slice(0, dot);
    const methodName = target.method.slice(dot + 1);
    const protoServices = [...new Set(instances.flatMap((instance) => instance.protoServices))];
    const protoService = protoServices.find(
      (name) => name === serviceName || name.endsWith(`.${serviceName}`),
    );
    const endpoints = instances.some((instance) => instance.endpoints !== undefined)
      ? [...new Set(instances.flatMap((instance) => instance.endpoints ?? []))].sort()
      : undefined;
    // Endpoints are `<Service>.<Method>`, named by the proto service's last segment.
    const served = (name: string) =>
      endpoints === undefined || endpoints.includes(`${name.slice(name.lastIndexOf('.') + 1)}.${methodName}`);
    if (!protoService || !served(protoService)) {
      throw new ConnectError(
        `service "${target.service}" has no method "${target.method}"; it serves ${(endpoints ?? protoServices).join(', ')}`,
        Code.NotFound,
      );
    }
    const response = await caller.call({
      service: target.service,
      protoService,
      path: `/${protoService}/${methodName}`,
      contentType: contentTypeJson,
      body: target.requestJson,
      headers: target.headers,
      timeoutMs: target.timeoutMs,
      signal: target.signal,
    });
    if (response.status === 200) return { ok: true, json: response.body.toString('utf8') };
    return { ok: false, error: errorBody(target.service, decodeError(response.status, response.body)) };
  } finally {
    await caller.close();
    await cache.close();
  }
}

async function callViaGateway(gatewayUrl: string, target: Target): Promise<Outcome> {
  const url = new URL('/rpc', gatewayUrl);
  const signals = [target.signal];
  if (target.timeoutMs !== undefined) signals.push(AbortSignal.timeout(target.timeoutMs));
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { ...target.headers, 'content-type': contentTypeJson },
      body: `{"service":${JSON.stringify(target.service)},"method":${JSON.stringify(target.method)},"request":${target.requestJson}}`,
      signal: AbortSignal.any(signals),
    });
  } catch (error) {
    if (target.signal.aborted) throw new ConnectError('call canceled', Code.Canceled);
    const reason = (error as Error).name === 'TimeoutError' ? 'no answer in time' : fetchFailure(error);
    const code = (error as Error).name === 'TimeoutError' ? Code.DeadlineExceeded : Code.Unavailable;
    return {
      ok: false,
      error: errorBody('gateway', new ConnectError(`gateway at ${url.origin}: ${reason}`, code)),
    };
  }
  const text = await response.text();
  if (response.ok) return { ok: true, json: text };
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (typeof body.detail === 'string') return { ok: false, error: body as ErrorBody };
  } catch {
    // not the gateway's JSON error (a proxy in between?): described from the status below
  }
  return { ok: false, error: errorBody('gateway', decodeError(response.status, text)) };
}
