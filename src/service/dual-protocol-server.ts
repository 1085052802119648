/**
 * One TCP port for HTTP/1.1, HTTP/2 cleartext (h2c with prior knowledge, as gRPC
 * clients speak it) and berth frames (../protocol/frames.ts). Node's http2 server
 * offers HTTP/1 fallback only over TLS, so the first bytes of each connection are
 * sniffed: the HTTP/2 preface starts "PRI", berth's "BERTH/".
 * HTTP/1.1 sockets go to node:http untouched (its fast native parser); HTTP/2 ones
 * through a small Duplex, because http2 reads from the socket handle directly and
 * would miss the sniffed bytes.
 * Every connection is bounded (ConnectionLimits): time to send the first bytes,
 * the headers and the whole request, idle time, unanswered pipelined requests,
 * and the number of connections; berth-frames connections bound what they queue
 * themselves (frame-server.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * node:http through getBuiltinModule, not an ESM import: building its ESM namespace
 * reads every export, and two of them load node:http2 and Node's bundled undici —
 * ~14 MB of RSS per process for nothing (measured, Node 24).
 */
const { createServer: createHttpServer } = process.getBuiltinModule('node:http');

export type Http1Handler = (req: IncomingMessage, res: ServerResponse) => void;
export type Http2Handler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;
/**
 * Takes a berth-frames connection; `first` is its first chunk, preface included.
 * The socket comes with its idle timeout set (`ConnectionLimits.idleTimeoutMs`):
 * the handler acts on its 'timeout' events (FrameServerConnection does).
 */
export type FramesHandler = (socket: Socket, first: Buffer) => void;

/**
 * What one client may hold of a server. Every connection gets them; each guards
 * against a client that is slow or never finishes, not against a slow handler.
 */
export interface ConnectionLimits {
  /** Time to receive a request's headers (HTTP/1.1); answered 408 and closed after it. */
  readonly headersTimeoutMs: number;
  /** Time to receive a whole request, body included (HTTP/1.1); at least headersTimeoutMs. */
  readonly requestTimeoutMs: number;
  /**
   * An HTTP/1.1 connection with nothing in flight is closed after this. Short, as
   * Node's own default: a longer one lets a client that stopped reading an answer
   * hold a connection the server will not use again (the Connect conformance
   * suite measured the 65 s berth used to have).
   */
  readonly keepAliveTimeoutMs: number;
  /** Time for a new connection to send its first bytes (the protocol sniff). */
  readonly sniffTimeoutMs: number;
  /** A berth-frames or HTTP/2 connection with no call in flight and no traffic this long is closed. */
  readonly idleTimeoutMs: number;
  /**
   * Requests one HTTP/1.1 connection may have unanswered (pipelined): node:http
   * parses and dispatches every one it reads. One more is answered 429 and the
   * connection closed after it; those behind it are not served.
   */
  readonly maxPipelinedRequests: number;
  /** Open connections; connections past it are closed as they arrive. */
  readonly maxConnections: number;
  /**
   * Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS;
   * Node's default is 2³²−1, and the idle timeout never fires while streams are open).
   */
  readonly maxConcurrentStreams: number;
}

/** Defaults of ConnectionLimits, in one place (docs/architecture.md, "Connection limits"). */
export const connectionLimitDefaults: ConnectionLimits = {
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  sniffTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  maxPipelinedRequests: 32,
  maxConnections: 10_000,
  maxConcurrentStreams: 100,
};

/** `limits` over the defaults, checked; throws RangeError naming the bad one. */
export function resolveConnectionLimits(limits: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const resolved = { ...connectionLimitDefaults };
  for (const [key, value] of Object.entries(limits) as Array<[keyof ConnectionLimits, number | undefined]>) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
      throw new RangeError(`${key} must be a positive integer, got ${value}`);
    }
    resolved[key] = value;
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new RangeError(
      `headersTimeoutMs (${resolved.headersTimeoutMs}) must not exceed requestTimeoutMs (${resolved.requestTimeoutMs})`,
    );
  }
  return resolved;
}

export interface DualProtocolServer {
  listen(port: number, host: string): Promise<{ host: string; port: number }>;
  /** Stops accepting connections and closes idle keep-alive ones; in-flight requests go on. */
  stopAccepting(): void;
  /** Resolves when every connection has ended, or after `graceMs` by destroying the rest. */
  drain(graceMs: number): Promise<void>;
  /** Open connections (both protocols). */
  readonly connections: number;
}

/** Requests of an HTTP/1.1 connection not yet answered. */
const unanswered = Symbol('unanswered requests');
type CountedSocket = Socket & { [unanswered]?: number };
/** Streams open on an HTTP/2 session. */
const openStreams = Symbol('open streams');
type CountedSession = Http2Session & { [openStreams]?: number };

function destroyOnTimeout(this: Socket): void {
  this.destroy();
}

export function createDualProtocolServer(
  onHttp1: Http1Handler,
  onHttp2: Http2Handler,
  onFrames?: FramesHandler,
  limits: Partial<ConnectionLimits> = {},
): DualProtocolServer {
  const {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs,
    sniffTimeoutMs,
    idleTimeoutMs,
    maxPipelinedRequests,
    maxConnections,
    maxConcurrentStreams,
  } = resolveConnectionLimits(limits);
  const http1 = createHttpServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      // One timer per server checks every connection's headers and request
      // timeouts; Node's default of 30 s would let them overrun by that much.
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(headersTimeoutMs / 4)),
    },
    (req, res) => {
      const socket = req.socket as CountedSocket;
      const count = (socket[unanswered] ?? 0) + 1;
      socket[unanswered] = count;
      res.once('close', () => {
        socket[unanswered] = (socket[unanswered] ?? 1) - 1;
      });
      if (count <= maxPipelinedRequests) onHttp1(req, res);
      else if (count === maxPipelinedRequests + 1) {
        refusePipelined(socket, res, maxPipelinedRequests, requestTimeoutMs);
      }
      // Parsed after the refused one, which closes the connection: never answered.
    },
  );
  // node:http tracks connections (for closeIdleConnections and headersTimeout) only
  // from its 'listening' event; this server never listens itself, so without this
  // a keep-alive client held stop() for the whole grace period.
  http1.emit('listening');
  // node:http2 is loaded by the first HTTP/2 connection: it adds ~9 MB of RSS to
  // every process, and most only ever see HTTP/1.1 (the gateway, Connect clients).
  let http2: Promise<Http2Server> | undefined;
  const http2Server = () => {
    http2 ??= import('node:http2').then(({ createServer }) => {
      const server = createServer({ settings: { maxConcurrentStreams } }, onHttp2);
      server.on('stream', (stream) => {
        // Undefined when the stream was reset before its 'stream' event (emitted on a later tick).
        const session = stream.session as CountedSession | undefined;
        if (!session) return;
        session[openStreams] = (session[openStreams] ?? 0) + 1;
        stream.once('close', () => {
          session[openStreams] = (session[openStreams] ?? 1) - 1;
        });
      });
      // Idle: no stream open (a long stream may be quiet for minutes). close()
      // sends GOAWAY and ends the session once streams opened meanwhile end.
      server.setTimeout(idleTimeoutMs);
      server.on('timeout', (session: CountedSession) => {
        if ((session[openStreams] ?? 0) === 0) session.close();
      });
      return server;
    });
    return http2;
  };
  const sockets = new Set<Socket>();
  const net: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setTimeout(sniffTimeoutMs, destroyOnTimeout);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.setTimeout(0, destroyOnTimeout);
      if (first.length >= 3 && first[0] === 0x50 && first[1] === 0x52 && first[2] === 0x49) {
        void http2Server().then((server) => server.emit('connection', wrapForHttp2(socket, first)));
      } else if (onFrames && first.length >= 2 && first[0] === 0x42 && first[1] === 0x45) {
        socket.setTimeout(idleTimeoutMs);
        onFrames(socket, first);
      } else {
        socket.unshift(first);
        http1.emit('connection', socket);
        socket.resume();
      }
    });
    socket.on('error', () => socket.destroy());
  });
  net.maxConnections = maxConnections;
  net.on('error', () => {});

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        net.once('error', reject);
        net.listen(port, host, () => {
          net.off('error', reject);
          const address = net.address();
          if (address === null || typeof address === 'string') reject(new Error('server has no TCP address'));
          else resolve({ host: address.address, port: address.port });
        });
      });
    },
    stopAccepting() {
      net.close();
      http1.close(); // closes idle keep-alive connections and stops the tracking timer
      void http2?.then((server) => server.close());
    },
    async drain(graceMs) {
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) {
        http1.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const socket of sockets) socket.destroy();
    },
    get connections() {
      return sockets.size;
    },
  };
}

/**
 * The request one past the pipelining cap: nothing more is read, it is answered
 * 429 once those before it are, and the connection closes after that. A client
 * that reads none of the answers is dropped when the socket has been quiet for
 * `quietMs` (node:http then destroys it: nothing else listens to its 'timeout').
 */
function refusePipelined(socket: Socket, res: ServerResponse, max: number, quietMs: number): void {
  socket.pause();
  socket.setTimeout(quietMs);
  const body = JSON.stringify({
    code: 'resource_exhausted',
    message: `more than ${max} requests in flight on one connection`,
  });
  res.writeHead(429, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

function wrapForHttp2(socket: Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  Object.assign(duplex, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    remoteFamily: socket.remoteFamily,
  });
  duplex.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (error) => duplex.destroy(error));
  socket.on('close', () => duplex.destroy());
  return duplex;
}
