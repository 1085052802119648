/**
 * The receiving side of the direct broker: a small HTTP server for the delivery
 * endpoint (direct-protocol.ts). It checks who sent a delivery (the token), that it
 * fits and parses, then hands the event to `receive` and answers with its outcome.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/logger.ts';
import type { BrokerEvent } from './broker.ts';
import { carriesToken, deliverPath, type Outcome, queueHeader, statusByOutcome } from './direct-protocol.ts';
import { parseEvent } from './envelope.ts';
import { isQueue } from './names.ts';

// Not an ESM import: see src/service/dual-protocol-server.ts (it would load node:http2 and undici).
const { createServer } = process.getBuiltinModule('node:http');

export interface DeliveryServerOptions {
  readonly host: string;
  readonly port: number;
  /** Host other processes reach this server at; default `host` (`127.0.0.1` when it is a wildcard). */
  readonly advertiseHost: string | undefined;
  /** Every delivery must carry it; undefined: deliveries are not authenticated. */
  readonly token: string | undefined;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  /** Runs the local handler(s) for a delivery. */
  readonly receive: (event: BrokerEvent, queue: string | undefined) => Promise<Outcome>;
}

const messages: Partial<Record<Outcome, string>> = {
  nack: 'handler failed',
  unavailable: 'broker is closing',
};

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export class DeliveryServer {
  readonly #server: Server;
  readonly #options: DeliveryServerOptions;
  /** Delivery requests being answered. */
  readonly #requests = new Set<Promise<void>>();
  #address = '';

  /** Call listen() to start serving. */
  constructor(options: DeliveryServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      const serving = this.#serve(req, res);
      this.#requests.add(serving);
      void serving.finally(() => this.#requests.delete(serving));
    });
    this.#server.keepAliveTimeout = 60_000;
    // Bounds receiving a delivery (not running its handler), so close() never waits on a stalled sender.
    this.#server.requestTimeout = 10_000;
  }

  /** `host:port` this server receives deliveries on. */
  get address(): string {
    return this.#address;
  }

  async listen(): Promise<void> {
    const { host, port, advertiseHost } = this.#options;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const bound = this.#server.address() as AddressInfo;
    const advertised = advertiseHost ?? (isWildcard(host) ? '127.0.0.1' : host);
    this.#address = `${formatHost(advertised)}:${bound.port}`;
  }

  /** Lets the answers being written reach their senders, then closes the listener and its connections. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#requests);
    await new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      const force = setTimeout(() => this.#server.closeAllConnections(), 1000);
      this.#server.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = (status: number, message: string, close = false) => {
      if (res.headersSent) return;
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(close ? { connection: 'close' } : {}),
      });
      res.end(JSON.stringify(status === 200 ? {} : { error: message }));
    };
    try {
      const path = (req.url ?? '').split('?')[0];
      if (path !== deliverPath) return answer(404, 'not found');
      if (req.method !== 'POST') return answer(405, 'method not allowed');
      const { token } = this.#options;
      // Before the body is read: a sender without the token gets nothing buffered for it.
      if (token !== undefined && !carriesToken(req.headers.authorization, token)) {
        this.#options.logger.debug(
          { remote: req.socket.remoteAddress },
          'delivery refused: no or wrong token',
        );
        return answer(401, 'unauthorized: no or wrong broker token', true);
      }
      const body = await this.#readBody(req);
      if (body === undefined) return answer(413, 'event too large', true);
      const event = parseEvent(body);
      const queueValue = req.headers[queueHeader];
      const queue = typeof queueValue === 'string' && queueValue !== '' ? queueValue : undefined;
      if (!event || (queue !== undefined && !isQueue(queue))) {
        return answer(
          400,
          'malformed delivery: expected a JSON event {id, topic, data, publishedAt, headers}',
        );
      }
      const outcome = await this.#options.receive(event, queue);
      answer(statusByOutcome[outcome], messages[outcome] ?? outcome);
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'delivery request failed');
      answer(400, 'bad request', true);
    }
  }

  /**
   * The body as text, or undefined when it exceeds the limit. An oversized body is read
   * and dropped (so the sender gets to see the 413), up to a bound past which the
   * connection is cut.
   */
  async #readBody(req: IncomingMessage): Promise<string | undefined> {
    const max = this.#options.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > 8 * max) {
      req.destroy();
      return undefined;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 8 * max) {
        req.destroy();
        return undefined;
      }
      if (size <= max) chunks.push(chunk as Buffer);
    }
    return size > max ? undefined : Buffer.concat(chunks).toString('utf8');
  }
}
