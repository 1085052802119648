/**
 * A service's operations endpoints: `GET /healthz` (alive), `/readyz` (ready,
 * with each dependency check), `/metrics` (Prometheus text) and `/descriptors`
 * (the proto services it serves, each method with an example request: what the
 * `berth run` dashboard's API explorer shows; no more than its .proto files say). They are served
 * on the service's own port, or — with `opsPort` (Kubernetes: 9090) — only on a
 * plain HTTP/1.1 listener of their own, so the public port never shows metrics
 * or readiness errors and probes and scrapes reach the pod directly.
 */

import type { RequestListener, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { DescService } from '@bufbuild/protobuf';
import type { HealthState } from '../health/health.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { describeServices } from './describe-services.ts';

/** node:http without building its ESM namespace (see dual-protocol-server.ts). */
const { createServer } = process.getBuiltinModule('node:http');

export interface OpsSource {
  readonly name: string;
  readonly instanceId: string;
  readonly health: HealthState;
  readonly metrics: Metrics;
  /** The proto services it serves, for `/descriptors`. */
  readonly schemas?: readonly DescService[];
}

/** Answers `url` if it is an ops endpoint; false when it is none of them. */
export function serveOps(source: OpsSource, url: string, res: ServerResponse | Http2ServerResponse): boolean {
  const send = (status: number, contentType: string, body: string) => {
    (res as ServerResponse).writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  switch (url) {
    case '/healthz':
      send(
        200,
        'application/json',
        JSON.stringify({ status: 'ok', service: source.name, instance: source.instanceId }),
      );
      return true;
    case '/readyz':
      void source.health.readiness().then(
        (readiness) => send(readiness.ready ? 200 : 503, 'application/json', JSON.stringify(readiness)),
        (error: unknown) =>
          send(503, 'application/json', JSON.stringify({ ready: false, error: String(error) })),
      );
      return true;
    case '/metrics':
      void source.metrics.render().then(
        (rendered) => send(200, rendered.contentType, rendered.body),
        (error: unknown) => send(500, 'text/plain', String(error)),
      );
      return true;
    case '/descriptors':
      send(200, 'application/json', JSON.stringify(describeServices(source.schemas ?? [])));
      return true;
    default:
      return false;
  }
}

export interface OpsListener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A plain HTTP/1.1 listener on `host:port` (0: any free port) for ops endpoints
 * alone (the service's and the gateway's): probes and scrapes send a GET and
 * nothing else, so anything slower than a few seconds is not one of them.
 */
export function listenOps(host: string, port: number, handle: RequestListener): Promise<OpsListener> {
  const server = createServer(
    { headersTimeout: 10_000, requestTimeout: 10_000, keepAliveTimeout: 5_000 },
    handle,
  );
  return new Promise((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new Error(`cannot listen on ${host}:${port} for the ops endpoints: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    server.listen(port, host, () => {
      // Listening: a failed accept later must not crash the process (as on its own port).
      server.removeAllListeners('error').on('error', () => {});
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('ops listener has no TCP address'));
        return;
      }
      resolve({
        host: address.address,
        port: address.port,
        close: () =>
          new Promise<void>((closed) => {
            server.close(() => closed());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** A service's ops endpoints on their own listener: every other request is a 404. */
export function opsOnly(source: OpsSource): RequestListener {
  return (req, res) => {
    if (req.method === 'GET' && serveOps(source, req.url ?? '', res)) return;
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 });
    res.end('not found\n');
  };
}
