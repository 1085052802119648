/**
 * The runner's control endpoint: how `berth stop` and `berth start` reach a
 * running `berth run`. HTTP on 127.0.0.1 with a bearer token; both are in the
 * state file, which only its owner can read.
 *
 *   POST /v1/stop   {"services": ["email"]}  stop these (not restarted until started again)
 *   POST /v1/stop   {}                       stop the whole system; the runner exits 0
 *   POST /v1/start  {"services": ["email"]}  start these (and what they depend on); answers once ready
 *   → 200 {"ok": true} | 4xx/5xx {"error": "..."}
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunState } from './state.ts';

export interface ControlHandlers {
  stop(services: readonly string[]): Promise<void>;
  start(services: readonly string[]): Promise<void>;
  /** Stop everything (the runner then exits). */
  shutdown(): void;
}

/** A mistake in the request (unknown service): 400 with its message. */
export class ControlRequestError extends Error {}

export class ControlServer {
  readonly token = randomBytes(24).toString('hex');
  /** `http://127.0.0.1:<port>`, once listening (kept after close: the state file names it). */
  url = '';
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(handlers: ControlHandlers): Promise<ControlServer> {
    const server = createServer();
    const control = new ControlServer(server);
    server.on('request', (req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      control.#handle(req, handlers).then(
        () => reply(200, { ok: true }),
        (error: Error & { status?: number }) =>
          reply(error instanceof ControlRequestError ? 400 : (error.status ?? 500), { error: error.message }),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    control.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return control;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, handlers: ControlHandlers): Promise<void> {
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${this.token}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw Object.assign(new Error('missing or wrong control token'), { status: 401 });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let services: string[];
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { services?: unknown };
      services = Array.isArray(body.services) ? body.services.map(String) : [];
    } catch {
      throw new ControlRequestError('expected a JSON body such as {"services": ["email"]}');
    }
    if (req.method === 'POST' && req.url === '/v1/stop') {
      if (services.length === 0) handlers.shutdown();
      else await handlers.stop(services);
    } else if (req.method === 'POST' && req.url === '/v1/start' && services.length > 0) {
      await handlers.start(services);
    } else {
      throw Object.assign(new Error(`no such control request: ${req.method} ${req.url}`), { status: 404 });
    }
  }
}

/**
 * Sends a control request to the runner of `state`; rejects with the runner's
 * message, or when `signal` aborts (the runner carries on with what it was asked).
 */
export function sendControl(
  state: Pick<RunState, 'runner'>,
  action: 'stop' | 'start',
  services: readonly string[],
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${state.runner.control}/v1/${action}`,
      {
        method: 'POST',
        agent: false,
        signal,
        headers: { authorization: `Bearer ${state.runner.token}`, 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode === 200) return resolve();
          let message = Buffer.concat(chunks).toString('utf8');
          try {
            message = (JSON.parse(message) as { error: string }).error;
          } catch {
            // not JSON: show it as it is
          }
          reject(new Error(message || `the runner answered HTTP ${res.statusCode}`));
        });
      },
    );
    req.on('error', (error) =>
      reject(
        signal?.aborted
          ? new Error(`stopped waiting; the runner goes on with "${action}"`)
          : new Error(`cannot reach the runner: ${error.message}`),
      ),
    );
    req.end(JSON.stringify({ services }));
  });
}
