/**
 * A service's operations endpoints: `GET /healthz` (alive), `/readyz` (ready,
 * with each dependency check) and `/metrics` (Prometheus text). They are served
 * on the service's own port, or — with `opsPort` (Kubernetes: 9090) — only on a
 * plain HTTP/1.1 listener of their own, so the public port never shows metrics
 * or readiness errors and probes and scrapes reach the pod directly.
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { HealthState } from '../health/health.ts';
import type { Metrics } from '../metrics/metrics.ts';

/** node:http without building its ESM namespace (see dual-protocol-server.ts). */
const { createServer } = process.getBuiltinModule('node:http');

export interface OpsSource {
  readonly name: string;
  readonly instanceId: string;
  readonly health: HealthState;
  readonly metrics: Metrics;
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
    default:
      return false;
  }
}

export interface OpsListener {
  readonly port: number;
  close(): Promise<void>;
}

/** The ops endpoints alone on `host:port` (0: any free port); every other request is a 404. */
export function listenOps(source: OpsSource, host: string, port: number): Promise<OpsListener> {
  const server = createServer(
    // Probes and scrapes send a GET and nothing else: anything slower is not one of them.
    { headersTimeout: 10_000, requestTimeout: 10_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      if (req.method === 'GET' && serveOps(source, req.url ?? '', res)) return;
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 });
      res.end('not found\n');
    },
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
      // Listening: a failed accept later must not crash the service (as on its own port).
      server.removeAllListeners('error').on('error', () => {});
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('ops listener has no TCP address'));
        return;
      }
      resolve({
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
