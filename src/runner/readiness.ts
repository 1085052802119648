/**
 * How the runner tells that a process it started is ready, one probe per kind:
 *  - a service: its instance (matched by pid) is in the system's local registry
 *    and its `/readyz` answers 200;
 *  - the gateway: `/readyz` on its port answers 200;
 *  - the embedded Postgres: its port accepts connections (PGlite listens only
 *    once the database is open).
 * And the system as a whole once the gateway's cache holds every service instance.
 * A probe answers the process's address once ready, else undefined.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { LocalRegistry } from '../registry/local-registry.ts';

export type Probe = (pid: number) => Promise<string | undefined>;

/** GET http://<address>/readyz: its status and JSON body (undefined when nothing answered). */
function getReadyz(
  address: string,
  timeoutMs: number,
): Promise<{ status: number; body: unknown } | undefined> {
  return new Promise((resolve) => {
    const req = request(`http://${address}/readyz`, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * Whether the gateway at `address` routes to at least `expected` instances of each
 * service: its /readyz lists the instances its registry cache knows, which lags the
 * registry by up to a scan. A system is only ready once its gateway can reach it.
 */
export async function gatewaySees(address: string, expected: ReadonlyMap<string, number>): Promise<boolean> {
  const answer = await getReadyz(address, 1000);
  const services = (answer?.body as { services?: Array<{ name: string; instances: number }> } | undefined)
    ?.services;
  if (answer?.status !== 200 || !services) return false;
  return [...expected].every(
    ([name, count]) => (services.find((service) => service.name === name)?.instances ?? 0) >= count,
  );
}

/** GET http://<address>/readyz is 200; a fresh connection, so none lingers to a dying process. */
export async function answersReady(address: string, timeoutMs = 1000): Promise<boolean> {
  return (await getReadyz(address, timeoutMs))?.status === 200;
}

export function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function serviceProbe(registry: LocalRegistry, service: string): Probe {
  return async (pid) => {
    // A service process also registers berth's plumbing (e.g. `berth.broker`): match the name too.
    const instance = (await registry.list(service)).find(
      (candidate) => candidate.metadata.pid === String(pid),
    );
    return instance && (await answersReady(instance.address)) ? instance.address : undefined;
  };
}

export function httpProbe(address: string): Probe {
  return async () => ((await answersReady(address)) ? address : undefined);
}

export function tcpProbe(host: string, port: number): Probe {
  return async () => ((await acceptsConnections(host, port)) ? `${host}:${port}` : undefined);
}
