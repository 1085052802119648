/**
 * The broker's row on the Resources page. With NATS it is a server the runner does
 * not own (the user's NATS_URL): its state is what a TCP connection and the
 * server's first line (`INFO {...}`, the NATS protocol's greeting) say, and it has
 * no stop/start. With the direct broker there is no process at all: services
 * deliver events to each other (src/broker/direct-broker.ts), and the row says so.
 */
import { connect } from 'node:net';

/** Which broker the run's services use (src/runner/run-dashboard.ts tells). */
export type DashboardBroker =
  | {
      readonly kind: 'nats' /** NATS_URL as given: one URL or several, comma-separated. */;
      readonly url: string;
    }
  | { readonly kind: 'direct' };

/** A Resources row, shaped like the processes' (instance, kind, status, address, readiness). */
export interface BrokerResource {
  readonly instance: string;
  readonly service: string;
  readonly kind: 'nats' | 'broker';
  readonly address: string | undefined;
  /** `ready` once a server greeted; `unreachable` else; `direct`: no process to be in any state. */
  readonly status: 'ready' | 'unreachable' | 'direct';
  readonly readiness: { readonly ready: boolean; readonly checks: Record<string, string> };
}

/** `host:port` of each server in a NATS_URL, without any user or password it holds. */
export function natsAddresses(url: string): string[] {
  return url
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const parsed = new URL(part.includes('://') ? part : `nats://${part}`);
      return `${parsed.hostname}:${parsed.port || '4222'}`;
    });
}

/** The server's greeting (its INFO line's JSON), or why there is none. */
export function natsInfo(address: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(address.slice(colon + 1)) });
    let received = '';
    const done = (error: Error | undefined, info?: Record<string, unknown>) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(info!);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no INFO within ${timeoutMs} ms`)));
    socket.on('error', (error) => done(error));
    socket.on('close', () => done(new Error('closed before sending INFO')));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n');
      if (end < 0) {
        // A NATS greeting is a few hundred bytes: anything longer is not one.
        if (received.length > 64 * 1024) done(new Error('not a NATS server (no INFO line)'));
        return;
      }
      const first = received.slice(0, end);
      if (!first.startsWith('INFO '))
        return done(new Error(`not a NATS server: it said ${JSON.stringify(first.slice(0, 80))}`));
      try {
        done(undefined, JSON.parse(first.slice('INFO '.length)) as Record<string, unknown>);
      } catch (error) {
        done(new Error(`not a NATS server: its INFO is not JSON (${(error as Error).message})`));
      }
    });
  });
}

/** The row for this broker: a NATS server is checked now, each of its addresses until one answers. */
export async function brokerResource(broker: DashboardBroker, timeoutMs = 2000): Promise<BrokerResource> {
  if (broker.kind === 'direct') {
    return {
      instance: 'broker (direct)',
      service: 'broker',
      kind: 'broker',
      address: undefined,
      status: 'direct',
      readiness: {
        ready: true,
        // Each service's outbox relay delivers to its subscribers itself (src/broker/direct-broker.ts).
        checks: { delivery: 'direct between services (no process)' },
      },
    };
  }
  let addresses: string[];
  try {
    addresses = natsAddresses(broker.url);
  } catch {
    addresses = [];
  }
  const failures: Record<string, string> = {};
  for (const address of addresses) {
    try {
      const info = await natsInfo(address, timeoutMs);
      const version = typeof info.version === 'string' ? `nats-server ${info.version}` : 'a NATS server';
      const jetstream = info.jetstream === true ? ', JetStream on' : '';
      return {
        ...natsRow(addresses),
        status: 'ready',
        readiness: { ready: true, checks: { [address]: `${version}${jetstream}` } },
      };
    } catch (error) {
      failures[address] = (error as Error).message;
    }
  }
  return {
    ...natsRow(addresses),
    status: 'unreachable',
    readiness: {
      ready: false,
      checks: addresses.length === 0 ? { NATS_URL: 'names no server (host:port)' } : failures,
    },
  };
}

function natsRow(
  addresses: readonly string[],
): Pick<BrokerResource, 'instance' | 'service' | 'kind' | 'address'> {
  return { instance: 'nats', service: 'nats', kind: 'nats', address: addresses.join(', ') || undefined };
}
