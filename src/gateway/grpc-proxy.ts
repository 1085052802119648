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

/** Relays one request; `onDone` receives the gRPC status (or the failure) for metrics. */
export function relayHttp2(
  upstreams: Http2Upstreams,
  address: string,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  onFail: (error: Error) => void,
): void {
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
    onFail(error as Error);
    return;
  }
  upstream.on('response', (responseHeaders) => {
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
    if (!res.headersSent) onFail(error);
    else res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  });
  req.pipe(upstream);
  req.on('aborted', () => upstream.close(constants.NGHTTP2_CANCEL));
}
