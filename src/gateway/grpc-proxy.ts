/**
 * gRPC pass-through: an HTTP/2 stream from a client is relayed to an instance over
 * an HTTP/2 connection of our own, headers, body and trailers included, so any
 * gRPC method (streaming too) works through the gateway without knowing its types.
 */
import {
  type ClientHttp2Session,
  connect,
  constants,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { CallOutcome } from '../balancer/balancer.ts';

const { HTTP2_HEADER_PATH, HTTP2_HEADER_METHOD, HTTP2_HEADER_STATUS } = constants;

export class Http2Upstreams {
  readonly #sessions = new Map<string, ClientHttp2Session>();

  session(address: string): ClientHttp2Session {
    let session = this.#sessions.get(address);
    if (!session || session.closed || session.destroyed) {
      session = connect(`http://${address}`);
      const current = session;
      current.on('error', () => this.#sessions.delete(address));
      current.on('close', () => {
        if (this.#sessions.get(address) === current) this.#sessions.delete(address);
      });
      this.#sessions.set(address, current);
    }
    return session;
  }

  close(): void {
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
  }
}

/**
 * Relays one request. `onSettled` is called once: with `reached` when the instance
 * answered, or with the error when it could not be reached (connection refused or
 * lost before any answer), so the balancer and ejector learn either way.
 */
export function relayHttp2(
  upstreams: Http2Upstreams,
  address: string,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  onSettled: (outcome: CallOutcome, error?: Error) => void,
): void {
  let settled = false;
  const settle = (outcome: CallOutcome, error?: Error) => {
    if (settled) return;
    settled = true;
    onSettled(outcome, error);
  };
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':') || name === 'connection' || name === 'host') continue;
    headers[name] = value;
  }
  headers[HTTP2_HEADER_METHOD] = req.method;
  headers[HTTP2_HEADER_PATH] = req.url;
  let upstream: ReturnType<ClientHttp2Session['request']>;
  try {
    upstream = upstreams.session(address).request(headers);
  } catch (error) {
    settle({ reached: false, connectFailure: true }, error as Error);
    return;
  }
  upstream.on('response', (responseHeaders) => {
    settle({ reached: true, connectFailure: false });
    const status = Number(responseHeaders[HTTP2_HEADER_STATUS] ?? 200);
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(responseHeaders)) {
      if (value !== undefined && !name.startsWith(':')) out[name] = value as string | string[];
    }
    res.writeHead(status, out);
    upstream.pipe(res.stream, { end: false });
  });
  upstream.on('trailers', (trailers) => {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(trailers)) {
      if (value !== undefined && !name.startsWith(':')) out[name] = value as string | string[];
    }
    res.addTrailers(out);
  });
  upstream.on('end', () => res.end());
  upstream.on('error', (error) => {
    if (!res.headersSent) settle({ reached: false, connectFailure: true }, error);
    else res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  });
  // Closed before any answer and without an error: the client gave up first.
  upstream.on('close', () => settle({ reached: false, connectFailure: false }));
  req.pipe(upstream);
  req.on('aborted', () => upstream.close(constants.NGHTTP2_CANCEL));
}
