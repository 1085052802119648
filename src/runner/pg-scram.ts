/**
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), the password exchange of
 * PostgreSQL 10+ and the one `pg` (node-postgres) answers, for the embedded Postgres's
 * wire server. The password never crosses the socket: the client proves it knows it,
 * and the server proves it knows it too (the client checks the server signature).
 *
 *   client ─► client-first   "n,,n=*,r=<client nonce>"
 *   server ─► server-first   "r=<client nonce><server nonce>,s=<salt>,i=<iterations>"
 *   client ─► client-final   "c=biws,r=<nonce>,p=<proof>"
 *   server ─► server-final   "v=<server signature>"
 *
 * No channel binding (the wire server has no TLS): a client that requires it
 * (gs2 flag `p`) is refused.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
const ITERATIONS = 4096;

/** What the server keeps of a password (as pg_authid does), derived once. */
export interface ScramVerifier {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** A client message that is not what SCRAM expects at this step. */
export class ScramProtocolError extends Error {}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/** The verifier of `password`, with a random salt (a given one only for known-answer tests). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): ScramVerifier {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, ITERATIONS, 32, 'sha256');
  return {
    salt,
    iterations: ITERATIONS,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** `a=1,b=2` → Map; a repeated or malformed attribute is a protocol error. */
function attributes(text: string, what: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of text.split(',')) {
    const match = /^([a-zA-Z])=(.*)$/s.exec(part);
    if (!match || map.has(match[1]!)) throw new ScramProtocolError(`malformed SCRAM ${what}`);
    map.set(match[1]!, match[2]!);
  }
  return map;
}

/** One SCRAM exchange, from the client's first message to the server's final one. */
export class ScramExchange {
  readonly #verifier: ScramVerifier;
  #gs2Header = '';
  #clientFirstBare = '';
  #serverFirst = '';
  #nonce = '';
  readonly #serverNonce: string;

  /** `serverNonce` is random unless given (known-answer tests only). */
  constructor(verifier: ScramVerifier, serverNonce: string = randomBytes(18).toString('base64')) {
    this.#verifier = verifier;
    this.#serverNonce = serverNonce;
  }

  /** The server-first message answering the client-first message. */
  serverFirst(clientFirst: string): string {
    // gs2-header: a channel-binding flag, an optional authzid, then the bare message.
    const match = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(clientFirst);
    if (!match) {
      throw new ScramProtocolError(
        clientFirst.startsWith('p')
          ? 'SCRAM channel binding is not supported (no TLS): connect with channel_binding disabled'
          : 'malformed SCRAM client-first message',
      );
    }
    if (match[2]) throw new ScramProtocolError('SCRAM authorization identities are not supported');
    this.#gs2Header = clientFirst.slice(0, clientFirst.length - match[3]!.length);
    this.#clientFirstBare = match[3]!;
    // RFC 5802 §5.1: a mandatory extension the server does not know must fail the exchange.
    if (this.#clientFirstBare.startsWith('m=')) {
      throw new ScramProtocolError('SCRAM mandatory extensions are not supported');
    }
    const clientNonce = attributes(this.#clientFirstBare, 'client-first message').get('r');
    if (!clientNonce) throw new ScramProtocolError('SCRAM client-first message has no nonce');
    this.#nonce = clientNonce + this.#serverNonce;
    const { salt, iterations } = this.#verifier;
    this.#serverFirst = `r=${this.#nonce},s=${salt.toString('base64')},i=${iterations}`;
    return this.#serverFirst;
  }

  /**
   * The server-final message if the client-final message proves the password,
   * else undefined (a wrong password). A malformed message is a ScramProtocolError.
   */
  serverFinal(clientFinal: string): string | undefined {
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramProtocolError('SCRAM client-final message has no proof');
    const withoutProof = clientFinal.slice(0, proofAt);
    const fields = attributes(withoutProof, 'client-final message');
    if (fields.get('c') !== Buffer.from(this.#gs2Header).toString('base64')) {
      throw new ScramProtocolError('SCRAM channel binding does not match the client-first message');
    }
    if (fields.get('r') !== this.#nonce) throw new ScramProtocolError('SCRAM nonce does not match');
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    const { storedKey, serverKey } = this.#verifier;
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    if (proof.length !== clientSignature.length) return undefined;
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ clientSignature[i]!));
    if (!timingSafeEqual(sha256(clientKey), storedKey)) return undefined;
    return `v=${hmac(serverKey, authMessage).toString('base64')}`;
  }
}
