/**
 * How the runner tells that a process it started is ready, one probe per kind:
 *  - a service: its instance (matched by pid) is in the system's local registry
 *    and its `/readyz` answers 200;
 *  - the gateway: `/readyz` on its port answers 200;
 *  - the embedded Postgres: it answers the Postgres protocol (PGlite listens only
 *    once the database is open).
 * And the system as a whole once the gateway's cache holds every service instance.
 * A probe answers the process's address once ready, else undefined.
 *
 * Once ready, a health check tells that the process still answers at all (it may
 * be alive yet wedged): `/healthz` for services and the gateway (not `/readyz`,
 * which fails while a dependency is down, where a restart would not help), and
 * the Postgres protocol for the embedded Postgres. A bare TCP connect is no such
 * check: the kernel completes it even when the process never reads.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { LocalRegistry } from '../registry/local-registry.ts';

export type Probe = (pid: number) => Promise<string | undefined>;
/** Whether the process at `address` (as its probe found it) still answers. */
export type HealthCheck = (address: string) => Promise<boolean>;

const HEALTH_TIMEOUT_MS = 2000;

/** GET http://<address><path>: its status and JSON body (undefined when nothing answered). */
function getJson(
  address: string,
  path: '/readyz' | '/healthz',
  timeoutMs: number,
): Promise<{ status: number; body: unknown } | undefined> {
  return new Promise((resolve) => {
    const req = request(`http://${address}${path}`, { agent: false, timeout: timeoutMs }, (res) => {
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
  const answer = await getJson(address, '/readyz', 1000);
  const services = (answer?.body as { services?: Array<{ name: string; instances: number }> } | undefined)
    ?.services;
  if (answer?.status !== 200 || !services) return false;
  return [...expected].every(
    ([name, count]) => (services.find((service) => service.name === name)?.instances ?? 0) >= count,
  );
}

/** GET http://<address>/readyz is 200; a fresh connection, so none lingers to a dying process. */
export async function answersReady(address: string, timeoutMs = 1000): Promise<boolean> {
  return (await getJson(address, '/readyz', timeoutMs))?.status === 200;
}

/** GET http://<address>/healthz is 200: the process answers at all. */
export const answersHealthz: HealthCheck = async (address) =>
  (await getJson(address, '/healthz', HEALTH_TIMEOUT_MS))?.status === 200;

/** An SSLRequest: the first thing a Postgres client may send, answered before any login. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * Whether a Postgres server at host:port answers an SSLRequest (`S` or `N`) within
 * `timeoutMs`: it reads and answers the protocol, without a password and without
 * waiting for a database session that a long transaction may hold.
 */
export function answersPostgres(host: string, port: number, timeoutMs = HEALTH_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.once('data', (chunk: Buffer) => done(chunk[0] === 0x4e /* N */ || chunk[0] === 0x53 /* S */));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
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

export function postgresProbe(host: string, port: number): Probe {
  return async () => ((await answersPostgres(host, port)) ? `${host}:${port}` : undefined);
}
