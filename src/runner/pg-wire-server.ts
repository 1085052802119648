/**
 * Many Postgres wire-protocol connections onto ONE PGlite session, for `berth run`'s
 * embedded Postgres (pglite-server.ts).
 *
 * PGlite is a single backend session. pglite-socket's PGLiteSocketServer queues
 * each protocol *message* separately, so under concurrency another connection's
 * Parse/Bind lands between one connection's Parse, Bind, Execute and Sync, and `pg`
 * clients see "unnamed prepared statement does not exist", "portal does not exist"
 * or "bind message supplies 2 parameters…" (measured: a third of the requests of
 * four concurrent shippy clients failed). Here the unit of exclusivity is a
 * connection's whole exchange: once a connection sends a message it holds the
 * session until PGlite answers ReadyForQuery with status idle ('I'), so an
 * extended-protocol sequence, and a whole transaction, runs uninterrupted.
 * A connection that goes away inside a transaction has it rolled back.
 *
 * The price is PGlite's: one statement at a time, and a transaction blocks every
 * other connection until it ends (keep transactions short).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../log/logger.ts';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);

export interface PgWireServerOptions {
  readonly db: PGlite;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly maxConnections: number;
  readonly logger: Logger;
}

/** A FIFO lock: who holds the PGlite session. */
class SessionLock {
  #held = false;
  readonly #waiters: Array<() => void> = [];

  async acquire(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#held = false;
  }
}

/** The transaction status of the ReadyForQuery that ends `output`, if it ends with one. */
export function readyStatus(output: Uint8Array): 'I' | 'T' | 'E' | undefined {
  const view = new DataView(output.buffer, output.byteOffset, output.byteLength);
  let offset = 0;
  let last: number | undefined;
  while (offset + 5 <= output.length) {
    last = offset;
    offset += 1 + view.getInt32(offset + 1);
  }
  if (last === undefined || output[last] !== 0x5a /* Z */ || offset !== output.length) return undefined;
  return String.fromCharCode(output[last + 5]!) as 'I' | 'T' | 'E';
}

/** An ErrorResponse, for refusing a connection before it reaches PGlite. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat(
    [`SFATAL`, `VFATAL`, `C${code}`, `M${message}`].map((field) => Buffer.from(`${field}\0`)),
  );
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(4 + fields.length + 1, 1);
  return Buffer.concat([header, fields, Buffer.from([0])]);
}

export class PgWireServer {
  readonly #options: PgWireServerOptions;
  readonly #lock = new SessionLock();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(options: PgWireServerOptions) {
    this.#options = options;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Listens; resolves with `host:port`. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address() as { port: number };
    return `${this.#options.host}:${address.port}`;
  }

  /** Stops listening and closes every connection (their open transactions roll back). */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #accept(socket: Socket): void {
    if (this.#sockets.size >= this.#options.maxConnections) {
      socket.end(errorResponse('53300', `too many connections (at most ${this.#options.maxConnections})`));
      return;
    }
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    new Connection(socket, this.#options.db, this.#lock, this.#options.logger).run().finally(() => {
      this.#sockets.delete(socket);
    });
  }
}

/** One client connection: its messages, in order, each run while it holds the session. */
class Connection {
  readonly #socket: Socket;
  readonly #db: PGlite;
  readonly #lock: SessionLock;
  readonly #logger: Logger;
  #buffer: Buffer = Buffer.alloc(0);
  #started = false;
  #holding = false;
  #closed = false;
  /** Wakes run() when data arrives or the socket closes. */
  #wake: (() => void) | undefined;

  constructor(socket: Socket, db: PGlite, lock: SessionLock, logger: Logger) {
    this.#socket = socket;
    this.#db = db;
    this.#lock = lock;
    this.#logger = logger;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#closed = true;
      this.#wake?.();
    });
  }

  async run(): Promise<void> {
    try {
      while (!this.#closed) {
        const message = this.#next();
        if (message) await this.#handle(message);
        else await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } catch (error) {
      this.#logger.error({ err: error }, 'connection failed');
      this.#socket.destroy();
    } finally {
      if (this.#holding) {
        // Gone mid-exchange: end its extended-protocol sequence (after an error the session
        // skips everything up to a Sync) and undo its transaction, or the next connection
        // would run inside them.
        await this.#db.execProtocolRaw(SYNC).catch(() => {});
        if (this.#db.isInTransaction()) await this.#db.exec('ROLLBACK').catch(() => {});
        this.#holding = false;
        this.#lock.release();
      }
    }
  }

  /** The next complete message from the buffer, if any. */
  #next(): Buffer | undefined {
    // The startup packet (and SSL/cancel requests) have no type byte: length, then a code.
    const headerLength = this.#started ? 5 : 4;
    if (this.#buffer.length < headerLength) return undefined;
    const length = this.#started ? 1 + this.#buffer.readInt32BE(1) : this.#buffer.readInt32BE(0);
    if (this.#buffer.length < length) return undefined;
    const message = this.#buffer.subarray(0, length);
    this.#buffer = this.#buffer.subarray(length);
    return message;
  }

  async #handle(message: Buffer): Promise<void> {
    if (!this.#started) {
      const code = message.length >= 8 ? message.readInt32BE(4) : 0;
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.#socket.write('N'); // no encryption: the client goes on in plain text
        return;
      }
      if (code === CANCEL_REQUEST) {
        this.#socket.end(); // PGlite has no backend process to interrupt
        return;
      }
      if (code !== PROTOCOL_3) {
        this.#socket.end(errorResponse('08P01', `unsupported protocol ${code >> 16}.${code & 0xffff}`));
        return;
      }
      this.#started = true;
    } else if (message[0] === 0x58 /* X: Terminate */) {
      this.#socket.end();
      return;
    }
    if (!this.#holding) {
      await this.#lock.acquire();
      this.#holding = true;
    }
    const output = await this.#db.execProtocolRaw(message);
    if (!this.#closed && output.length > 0) this.#socket.write(output);
    if (readyStatus(output) === 'I') {
      this.#holding = false;
      this.#lock.release();
    }
  }
}
