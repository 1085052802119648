/**
 * The few pieces of the Postgres wire protocol (v3) that the embedded Postgres's
 * wire server reads and writes itself; everything else passes through to PGlite.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 * Framing is where a hostile or broken client can hurt: a length that is
 * negative, below the length field's own 4 bytes or absurdly large must end
 * that connection (ProtocolViolation), never make the reader wait for data
 * that cannot come or loop on a message that consumes nothing.
 */

export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;

/** As PostgreSQL's MAX_STARTUP_PACKET_LENGTH: a startup packet is a handful of settings. */
export const MAX_STARTUP_BYTES = 10_000;
/** Default bound of any other message: far above what services send, far below exhausting memory. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Bound of a message before login (SASL), as PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH. */
export const MAX_LOGIN_MESSAGE_BYTES = 65_535;

/** A framing error: answered with ErrorResponse 08P01 and the connection is closed. */
export class ProtocolViolation extends Error {}

/**
 * Splits a connection's bytes into messages: first untyped ones (the startup packet,
 * SSL and cancel requests: length, then a code), then typed ones (a type byte, then
 * the length). Chunks are joined only once a whole message is there, so a large
 * message arriving in many chunks is copied once, not once per chunk.
 */
export class MessageReader {
  #maxMessageBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #typed = false;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** Bytes received and not yet taken as messages. */
  get buffered(): number {
    return this.#buffered;
  }

  /** The bound of every message from now on (raised once the client has logged in). */
  limitMessages(maxMessageBytes: number): void {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** From now on, messages have a type byte (after the startup packet). */
  startTyped(): void {
    this.#typed = true;
  }

  /** The next whole message, if one is there; a ProtocolViolation if its length is impossible. */
  next(): Buffer | undefined {
    const headerBytes = this.#typed ? 5 : 4;
    if (this.#buffered < headerBytes) return undefined;
    const buffer = this.#joined(headerBytes);
    const total = this.#typed ? 1 + this.#checkedLength(buffer.readInt32BE(1)) : this.#startupLength(buffer);
    if (this.#buffered < total) return undefined;
    const joined = this.#joined(total);
    const message = joined.subarray(0, total);
    const rest = joined.subarray(total);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return message;
  }

  #startupLength(buffer: Buffer): number {
    const length = buffer.readInt32BE(0);
    // The length, then at least a 4-byte code.
    if (length < 8 || length > MAX_STARTUP_BYTES) {
      throw new ProtocolViolation(`invalid length of startup packet: ${length}`);
    }
    return length;
  }

  #checkedLength(length: number): number {
    if (length < 4 || length > this.#maxMessageBytes) {
      throw new ProtocolViolation(
        `invalid message length ${length} (at least 4, at most ${this.#maxMessageBytes} bytes)`,
      );
    }
    return length;
  }

  /** The buffered bytes as one buffer of at least `bytes`, joining chunks only when needed. */
  #joined(bytes: number): Buffer {
    if (this.#chunks[0]!.length < bytes) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
    return this.#chunks[0]!;
  }
}

/** A backend message: type byte, length, body. */
function backendMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

const cstring = (text: string) => Buffer.from(`${text}\0`);

/** A FATAL ErrorResponse. */
export function errorResponse(code: string, message: string): Buffer {
  const fields = ['SFATAL', 'VFATAL', `C${code}`, `M${message}`].map(cstring);
  return backendMessage('E', Buffer.concat([...fields, Buffer.from([0])]));
}

function authentication(kind: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const code = Buffer.alloc(4);
  code.writeInt32BE(kind);
  return backendMessage('R', Buffer.concat([code, data]));
}

/** AuthenticationSASL: the mechanisms the server offers. */
export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  return authentication(10, Buffer.concat([...mechanisms.map(cstring), Buffer.from([0])]));
}

export function authenticationSaslContinue(data: string): Buffer {
  return authentication(11, Buffer.from(data));
}

export function authenticationSaslFinal(data: string): Buffer {
  return authentication(12, Buffer.from(data));
}

/** The `user` of a startup packet (length, protocol, then name/value pairs). */
export function startupUser(packet: Buffer): string {
  const pairs = packet
    .subarray(8, packet.length - 1)
    .toString('utf8')
    .split('\0');
  for (let i = 0; i + 1 < pairs.length; i += 2) if (pairs[i] === 'user') return pairs[i + 1]!;
  return '';
}

/**
 * The SCRAM data of a password message ('p'): SASLInitialResponse (mechanism name,
 * data length, data) when `initial`, else SASLResponse (all data).
 */
export function saslData(message: Buffer, initial: boolean): { mechanism?: string; data: string } {
  if (message[0] !== 0x70 /* p */) {
    throw new ProtocolViolation(
      `expected a SASL response, got message type "${String.fromCharCode(message[0]!)}"`,
    );
  }
  const body = message.subarray(5);
  if (!initial) return { data: body.toString('utf8') };
  const end = body.indexOf(0);
  if (end < 0 || end + 5 > body.length) throw new ProtocolViolation('malformed SASLInitialResponse');
  const length = body.readInt32BE(end + 1);
  const data = body.subarray(end + 5);
  if (length !== data.length) throw new ProtocolViolation('malformed SASLInitialResponse');
  return { mechanism: body.subarray(0, end).toString('utf8'), data: data.toString('utf8') };
}

/** The transaction status of the ReadyForQuery that ends `output`, if it ends with one. */
export function readyStatus(output: Uint8Array): 'I' | 'T' | 'E' | undefined {
  const view = new DataView(output.buffer, output.byteOffset, output.byteLength);
  let offset = 0;
  let last: number | undefined;
  while (offset + 5 <= output.length) {
    last = offset;
    const length = view.getInt32(offset + 1);
    if (length < 4) return undefined; // not a message boundary: nothing to conclude
    offset += 1 + length;
  }
  if (last === undefined || output[last] !== 0x5a /* Z */ || offset !== output.length) return undefined;
  return String.fromCharCode(output[last + 5]!) as 'I' | 'T' | 'E';
}
