/**
 * One TCP port for HTTP/1.1, HTTP/2 cleartext (h2c with prior knowledge, as gRPC
 * clients speak it) and berth frames (../protocol/frames.ts). Node's http2 server
 * offers HTTP/1 fallback only over TLS, so the first bytes of each connection are
 * sniffed: the HTTP/2 preface starts "PRI", berth's "BERTH/".
 * HTTP/1.1 sockets go to node:http untouched (its fast native parser); HTTP/2 ones
 * through a small Duplex, because http2 reads from the socket handle directly and
 * would miss the sniffed bytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
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
/** Takes a berth-frames connection; `first` is its first chunk, preface included. */
export type FramesHandler = (socket: Socket, first: Buffer) => void;

export interface DualProtocolServer {
  listen(port: number, host: string): Promise<{ host: string; port: number }>;
  /** Stops accepting connections and closes idle keep-alive ones; in-flight requests go on. */
  stopAccepting(): void;
  /** Resolves when every connection has ended, or after `graceMs` by destroying the rest. */
  drain(graceMs: number): Promise<void>;
  /** Open connections (both protocols). */
  readonly connections: number;
}

export function createDualProtocolServer(
  onHttp1: Http1Handler,
  onHttp2: Http2Handler,
  onFrames?: FramesHandler,
): DualProtocolServer {
  const http1 = createHttpServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, onHttp1);
  // node:http tracks connections (for closeIdleConnections and headersTimeout) only
  // from its 'listening' event; this server never listens itself, so without this
  // a keep-alive client held stop() for the whole grace period.
  http1.emit('listening');
  // node:http2 is loaded by the first HTTP/2 connection: it adds ~9 MB of RSS to
  // every process, and most only ever see HTTP/1.1 (the gateway, Connect clients).
  let http2: Promise<Http2Server> | undefined;
  const http2Server = () => {
    http2 ??= import('node:http2').then(({ createServer }) => createServer({}, onHttp2));
    return http2;
  };
  const sockets = new Set<Socket>();
  const net: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      socket.pause();
      if (first.length >= 3 && first[0] === 0x50 && first[1] === 0x52 && first[2] === 0x49) {
        void http2Server().then((server) => server.emit('connection', wrapForHttp2(socket, first)));
      } else if (onFrames && first.length >= 2 && first[0] === 0x42 && first[1] === 0x45) {
        onFrames(socket, first);
      } else {
        socket.unshift(first);
        http1.emit('connection', socket);
        socket.resume();
      }
    });
    socket.on('error', () => socket.destroy());
  });
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
