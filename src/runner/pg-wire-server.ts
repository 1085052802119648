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
 * A connection reaches PGlite only after proving the password (SCRAM-SHA-256,
 * pg-scram.ts): wrong password → ErrorResponse 28P01, and the socket is closed.
 * A message whose length is impossible (pg-protocol.ts) is answered with 08P01 and
 * closes that connection only.
 *
 * The price is PGlite's: one statement at a time, and a transaction blocks every
 * other connection until it ends (keep transactions short).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../log/logger.ts';
import {
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  CANCEL_REQUEST,
  DEFAULT_MAX_MESSAGE_BYTES,
  errorResponse,
  GSSENC_REQUEST,
  MAX_LOGIN_MESSAGE_BYTES,
  MessageReader,
  PROTOCOL_3,
  ProtocolViolation,
  readyStatus,
  SSL_REQUEST,
  saslData,
  startupUser,
} from './pg-protocol.ts';
import {
  SCRAM_SHA_256,
  ScramExchange,
  ScramProtocolError,
  type ScramVerifier,
  scramVerifier,
} from './pg-scram.ts';

const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);
const TERMINATE = 0x58; // X
/** Bytes a connection may have waiting to be taken as messages before its socket is paused. */
const PAUSE_READING_BYTES = 1024 * 1024;

export interface PgWireServerOptions {
  readonly db: PGlite;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly maxConnections: number;
  /**
   * The password every client must prove (SCRAM-SHA-256), whatever its user name.
   * Unset: every client is let in, as PGlite's own socket server does; only for a
   * server inside a test process.
   */
  readonly password?: string;
  /** The largest message a client may send after its startup packet; default 64 MiB. */
  readonly maxMessageBytes?: number;
  /**
   * Time a client has from connecting to a session (PostgreSQL's authentication_timeout);
   * default 10 s, so connections that never log in cannot hold the connection slots.
   */
  readonly loginTimeoutMs?: number;
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

/**
 * PGlite's answer to `message`, copied out of its memory. Not execProtocolRaw: that
 * also parses every answer into a result list which only PGlite's own query methods
 * empty (0.5.14 to 0.5.17 at least), so each result stayed on the heap for good: the
 * embedded Postgres grew by about the size of every result it served until it died.
 */
async function execute(db: PGlite, message: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // The callback is handed a view of PGlite's buffer, which the next chunk overwrites: copy.
  await db.execProtocolRawStream(message, { onRawData: (data) => chunks.push(Buffer.from(data)) });
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** What every connection of one server shares. */
interface Shared {
  readonly db: PGlite;
  readonly lock: SessionLock;
  readonly logger: Logger;
  readonly verifier: ScramVerifier | undefined;
  readonly maxMessageBytes: number;
  readonly loginTimeoutMs: number;
}

export class PgWireServer {
  readonly #options: PgWireServerOptions;
  readonly #shared: Shared;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(options: PgWireServerOptions) {
    this.#options = options;
    if (options.password === '') throw new Error('the embedded Postgres password must not be empty');
    this.#shared = {
      db: options.db,
      lock: new SessionLock(),
      logger: options.logger,
      verifier: options.password === undefined ? undefined : scramVerifier(options.password),
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      loginTimeoutMs: options.loginTimeoutMs ?? 10_000,
    };
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
      endWith(
        socket,
        errorResponse('53300', `too many connections (at most ${this.#options.maxConnections})`),
      );
      return;
    }
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    new Connection(socket, this.#shared).run().finally(() => {
      this.#sockets.delete(socket);
    });
  }
}

/** Sends `last` (if any), then closes the socket once it is flushed, whatever the client does. */
function endWith(socket: Socket, last: Buffer = Buffer.alloc(0)): void {
  // A client that resets meanwhile must not make an unhandled 'error' end the process.
  if (socket.listenerCount('error') === 0) socket.on('error', () => socket.destroy());
  socket.end(last, () => socket.destroy());
}

/**
 * One client connection: startup, then the password exchange, then its messages, in
 * order, each run while it holds the session.
 */
class Connection {
  readonly #socket: Socket;
  readonly #shared: Shared;
  readonly #reader: MessageReader;
  #phase: 'startup' | 'sasl-initial' | 'sasl-final' | 'session' = 'startup';
  #startup: Buffer | undefined;
  #user = '';
  #scram: ScramExchange | undefined;
  #holding = false;
  /** No more messages are read: the socket closed, or the connection was ended. */
  #closed = false;
  /** Wakes run() when data arrives or the socket closes. */
  #wake: (() => void) | undefined;
  readonly #loginTimer: NodeJS.Timeout;

  constructor(socket: Socket, shared: Shared) {
    this.#socket = socket;
    this.#shared = shared;
    // Until the client has logged in, no message is larger than a SASL token.
    this.#reader = new MessageReader(Math.min(MAX_LOGIN_MESSAGE_BYTES, shared.maxMessageBytes));
    // PostgreSQL's own answer to an authentication_timeout.
    this.#loginTimer = setTimeout(
      () => this.#end(errorResponse('57014', 'canceling authentication due to timeout')),
      shared.loginTimeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      // Not read further while PGlite is busy with what came: run() resumes when it needs more.
      if (this.#reader.buffered > PAUSE_READING_BYTES) socket.pause();
      this.#wake?.();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(this.#loginTimer);
      this.#closed = true;
      this.#wake?.();
    });
  }

  async run(): Promise<void> {
    try {
      while (!this.#closed) {
        const message = this.#nextMessage();
        if (message) await this.#handle(message);
        else if (!this.#closed) {
          this.#socket.resume();
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
      }
    } catch (error) {
      this.#shared.logger.error({ err: error }, 'connection failed');
      this.#socket.destroy();
    } finally {
      if (this.#holding) {
        // Gone mid-exchange: end its extended-protocol sequence (after an error the session
        // skips everything up to a Sync) and undo its transaction, or the next connection
        // would run inside them.
        const { db, lock } = this.#shared;
        await execute(db, SYNC).catch(() => {});
        if (db.isInTransaction()) await db.exec('ROLLBACK').catch(() => {});
        this.#holding = false;
        lock.release();
      }
    }
  }

  /** The next message, or undefined; a framing or SCRAM mistake ends the connection with 08P01. */
  #nextMessage(): Buffer | undefined {
    try {
      return this.#reader.next();
    } catch (error) {
      this.#refuse(error);
      return undefined;
    }
  }

  /** Ends the connection for a client's protocol mistake; anything else is rethrown. */
  #refuse(error: unknown): void {
    if (!(error instanceof ProtocolViolation || error instanceof ScramProtocolError)) throw error;
    this.#shared.logger.warn({ reason: error.message }, 'closed a connection that broke the protocol');
    this.#end(errorResponse('08P01', error.message));
  }

  #end(last?: Buffer): void {
    this.#closed = true;
    endWith(this.#socket, last);
  }

  async #handle(message: Buffer): Promise<void> {
    try {
      switch (this.#phase) {
        case 'startup':
          return await this.#startupPacket(message);
        case 'sasl-initial':
          return this.#saslInitial(message);
        case 'sasl-final':
          return await this.#saslFinal(message);
        case 'session':
          return await this.#exchange(message);
      }
    } catch (error) {
      this.#refuse(error);
    }
  }

  async #startupPacket(message: Buffer): Promise<void> {
    const code = message.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      this.#socket.write('N'); // no encryption: the client goes on in plain text
      return;
    }
    if (code === CANCEL_REQUEST) {
      this.#end(); // PGlite has no backend process to interrupt
      return;
    }
    if (code !== PROTOCOL_3)
      throw new ProtocolViolation(`unsupported protocol ${code >> 16}.${code & 0xffff}`);
    this.#reader.startTyped();
    this.#startup = message;
    this.#user = startupUser(message);
    if (this.#shared.verifier === undefined) return this.#openSession();
    this.#socket.write(authenticationSasl([SCRAM_SHA_256]));
    this.#phase = 'sasl-initial';
  }

  #saslInitial(message: Buffer): void {
    const { mechanism, data } = saslData(message, true);
    if (mechanism !== SCRAM_SHA_256) {
      throw new ProtocolViolation(`unsupported SASL mechanism "${mechanism}" (offered: ${SCRAM_SHA_256})`);
    }
    this.#scram = new ScramExchange(this.#shared.verifier!);
    this.#socket.write(authenticationSaslContinue(this.#scram.serverFirst(data)));
    this.#phase = 'sasl-final';
  }

  async #saslFinal(message: Buffer): Promise<void> {
    const serverFinal = this.#scram!.serverFinal(saslData(message, false).data);
    if (serverFinal === undefined) {
      this.#shared.logger.warn({ user: this.#user }, 'password authentication failed');
      this.#end(errorResponse('28P01', `password authentication failed for user "${this.#user}"`));
      return;
    }
    this.#socket.write(authenticationSaslFinal(serverFinal));
    await this.#openSession();
  }

  /** Authenticated: PGlite answers the startup packet (AuthenticationOk, parameters, ReadyForQuery). */
  async #openSession(): Promise<void> {
    this.#phase = 'session';
    clearTimeout(this.#loginTimer);
    this.#reader.limitMessages(this.#shared.maxMessageBytes);
    const startup = this.#startup!;
    this.#startup = undefined;
    this.#scram = undefined;
    await this.#exchange(startup);
  }

  async #exchange(message: Buffer): Promise<void> {
    if (message[0] === TERMINATE) {
      this.#end();
      return;
    }
    if (!this.#holding) {
      await this.#shared.lock.acquire();
      this.#holding = true;
    }
    const output = await execute(this.#shared.db, message);
    if (!this.#closed && output.length > 0) this.#socket.write(output);
    if (readyStatus(output) === 'I') {
      this.#holding = false;
      this.#shared.lock.release();
    }
  }
}
