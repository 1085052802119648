/**
 * HTTP/1.1 keep-alive connections to service instances, one undici Pool per
 * address. Plain HTTP/1.1 rather than h2: on loopback and in a cluster the
 * per-request cost of node:http2 is higher, and client-side balancing already
 * spreads calls over instances (kube-proxy cannot, for one long h2 connection).
 */
import type { Dispatcher, Pool } from 'undici';
import { type PostRequest, type PostResult, SendError, type Transport } from './transport.ts';

/**
 * undici is loaded by the first call, not at start: it is ~14 MB of RSS and most
 * services of a system never call another (measured, Node 24). Once loaded, the
 * call path takes it synchronously.
 */
let undici: typeof import('undici') | undefined;
async function loadUndici(): Promise<typeof import('undici')> {
  undici ??= await import('undici');
  return undici;
}

const notSentCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function classifySendError(error: unknown, signal: AbortSignal | undefined): SendError {
  if (error instanceof SendError) return error;
  const code = (error as { code?: string })?.code ?? '';
  if (signal?.aborted || (error as Error)?.name === 'AbortError') return new SendError('aborted', error);
  if (notSentCodes.has(code)) return new SendError('not-sent', error);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new SendError('timeout', error);
  return new SendError('connection-lost', error);
}

export class HttpTransport implements Transport {
  readonly #pools = new Map<string, Pool>();
  readonly #connectionsPerAddress: number;

  constructor(options: { connectionsPerAddress?: number } = {}) {
    this.#connectionsPerAddress = options.connectionsPerAddress ?? 128;
  }

  /**
   * One POST over the address's pool. `dispatch` with a handler that collects the
   * body, rather than `request()` and a body stream: it skips undici's Readable,
   * AsyncResource and async iterator per call, which measured 15-40% more
   * requests/s through the gateway (bench/gateway, docs/benchmarks.md).
   */
  async post({
    address,
    method = 'POST',
    path,
    headers,
    body,
    timeoutMs,
    signal,
  }: PostRequest): Promise<PostResult> {
    const pool = this.#pools.get(address) ?? this.#pool(address, undici ?? (await loadUndici()));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status = 0;
      let responseHeaders: PostResult['headers'] = {};
      let stopListening: (() => void) | undefined;
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(controller) {
          if (!signal) return;
          const abort = () => controller.abort(signal.reason);
          if (signal.aborted) return abort();
          signal.addEventListener('abort', abort, { once: true });
          stopListening = () => signal.removeEventListener('abort', abort);
        },
        onResponseStart(_controller, statusCode, received) {
          status = statusCode;
          responseHeaders = received;
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          stopListening?.();
          const joined = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
          resolve({ status, headers: responseHeaders, body: joined });
        },
        onResponseError(_controller, error) {
          stopListening?.();
          reject(classifySendError(error, signal));
        },
      };
      try {
        pool.dispatch(
          {
            method,
            path,
            headers,
            body: method === 'GET' ? null : body,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          handler,
        );
      } catch (error) {
        reject(classifySendError(error, signal));
      }
    });
  }

  /** Drops the connections to an address that left the registry. */
  forget(address: string): void {
    const pool = this.#pools.get(address);
    if (!pool) return;
    this.#pools.delete(address);
    void pool.close().catch(() => {});
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => {})));
  }

  #pool(address: string, { Pool }: typeof import('undici')): Pool {
    let pool = this.#pools.get(address);
    if (!pool) {
      pool = new Pool(`http://${address}`, {
        connections: this.#connectionsPerAddress,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        connectTimeout: 2_000,
      });
      this.#pools.set(address, pool);
    }
    return pool;
  }
}
