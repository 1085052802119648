/**
 * The gateway's endpoints for operators: /healthz, /readyz, /metrics and
 * /_berth/services (every instance with its readiness, for the UI's system page).
 *
 * With an ops port (GatewayOptions.opsPort, as on Kubernetes) all four are served
 * by a plain HTTP/1.1 server on that port, where probes and Prometheus reach them,
 * and the public port keeps only /healthz and /readyz (cheap; load balancers and
 * the UI use them): /metrics and /_berth/* answer 404 there, since instance
 * addresses, versions and readiness errors are not for the internet. Without one
 * (`berth run`) the public port serves all four.
 *
 * /_berth/services asks every instance's /readyz; that answer is shared by
 * concurrent requests and kept for `describeRefreshMs` after it arrives (or until
 * the registry changes), so anonymous GETs cannot make the gateway fan out.
 */
import type { RequestListener } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Code, ConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { contentTypeJson } from '../protocol/connect-unary.ts';
import { opsPortMetadataKey, type ServiceInstance } from '../registry/registry.ts';
import type { RegistryCache } from '../registry/registry-cache.ts';
import { type Send, sendError } from './error-answers.ts';

const describeRefreshMs = 2_000;
const probeTimeoutMs = 1_000;

export interface OpsEndpointsOptions {
  readonly cache: RegistryCache;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Services the system declares: listed by /readyz and /_berth/services even with no instance. */
  readonly knownServices?: readonly string[];
}

interface DescribedServices {
  services: Array<{
    name: string;
    instances: Array<ServiceInstance & { ready: boolean; readiness: unknown }>;
  }>;
}

/** A /_berth/services answer; `settledAt` stays undefined while its probes run. */
interface CachedAnswer {
  readonly json: Promise<string>;
  settledAt: number | undefined;
}

export class OpsEndpoints {
  readonly #options: OpsEndpointsOptions;
  #described: CachedAnswer | undefined;
  readonly #stopWatching: () => void;

  constructor(options: OpsEndpointsOptions) {
    this.#options = options;
    // A new or removed instance shows at once; only repeated GETs of an unchanged system are cached.
    this.#stopWatching = options.cache.onChange(() => {
      this.#described = undefined;
    });
  }

  /**
   * Answers GET `path` when it is an ops endpoint and returns true; false for any
   * other path. `internal`: also /metrics and /_berth/* (else those are a 404).
   */
  serve(path: string, send: Send, internal: boolean): boolean {
    switch (path) {
      case '/healthz':
        send(200, { 'content-type': contentTypeJson }, '{"status":"ok","service":"gateway"}');
        return true;
      case '/readyz': {
        const services = this.#options.knownServices?.map((name) => ({
          name,
          instances: this.#options.cache.instances(name).length,
        }));
        send(200, { 'content-type': contentTypeJson }, JSON.stringify({ ready: true, services }));
        return true;
      }
    }
    if (path !== '/metrics' && !path.startsWith('/_berth/')) return false;
    const notFound = () =>
      sendError(
        send,
        'gateway',
        new ConnectError(`no route for GET ${path}`, Code.NotFound),
        this.#options.logger,
      );
    if (!internal) {
      notFound();
      return true;
    }
    if (path === '/metrics') {
      void this.#options.metrics.render().then(
        (rendered) => send(200, { 'content-type': rendered.contentType }, rendered.body),
        (error: unknown) => send(500, { 'content-type': 'text/plain' }, String(error)),
      );
    } else if (path === '/_berth/services') {
      void this.#describedJson().then((json) => send(200, { 'content-type': contentTypeJson }, json));
    } else {
      notFound();
    }
    return true;
  }

  close(): void {
    this.#stopWatching();
  }

  #describedJson(): Promise<string> {
    const cached = this.#described;
    if (
      cached &&
      (cached.settledAt === undefined || performance.now() - cached.settledAt < describeRefreshMs)
    ) {
      return cached.json;
    }
    const entry: CachedAnswer = {
      json: this.#describe().then((described) => JSON.stringify(described)),
      settledAt: undefined,
    };
    void entry.json.then(() => {
      entry.settledAt = performance.now();
    });
    this.#described = entry;
    return entry.json;
  }

  /** Instances per service with address, version and readiness (each instance's /readyz, briefly waited for). */
  async #describe(): Promise<DescribedServices> {
    const byName = new Map<string, ServiceInstance[]>();
    for (const instance of this.#options.cache.all()) {
      if (instance.name.startsWith('berth.')) continue;
      byName.set(instance.name, [...(byName.get(instance.name) ?? []), instance]);
    }
    for (const name of this.#options.knownServices ?? []) if (!byName.has(name)) byName.set(name, []);
    const services = await Promise.all(
      [...byName]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(async ([name, instances]) => ({ name, instances: await Promise.all(instances.map(probe)) })),
    );
    return { services };
  }
}

async function probe(
  instance: ServiceInstance,
): Promise<ServiceInstance & { ready: boolean; readiness: unknown }> {
  try {
    const response = await fetch(`http://${readinessAddress(instance)}/readyz`, {
      signal: AbortSignal.timeout(probeTimeoutMs),
    });
    return { ...instance, ready: response.ok, readiness: await response.json() };
  } catch (error) {
    return { ...instance, ready: false, readiness: { error: (error as Error).message } };
  }
}

/** Where an instance answers /readyz: its ops port when it registered one, else its address. */
function readinessAddress(instance: ServiceInstance): string {
  const opsPort = instance.metadata[opsPortMetadataKey];
  if (opsPort === undefined || !/^\d{1,5}$/.test(opsPort)) return instance.address;
  return `${instance.address.slice(0, instance.address.lastIndexOf(':'))}:${opsPort}`;
}

/** The gateway's ops endpoints alone, for their own listener (listenOps); anything else is a 404. */
export function opsOnly(ops: OpsEndpoints, logger: Logger): RequestListener {
  return (req, res) => {
    const send: Send = (status, headers, body) => {
      res.writeHead(status, headers);
      res.end(body);
    };
    const path = (req.url ?? '/').split('?', 1)[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && ops.serve(path, send, true)) return;
    sendError(send, 'gateway', new ConnectError(`no route for ${req.method} ${path}`, Code.NotFound), logger);
  };
}
