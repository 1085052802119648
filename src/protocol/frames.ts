/**
 * berth frames: Connect unary calls between berth processes, multiplexed over one
 * TCP connection instead of one HTTP/1.1 exchange per call.
 *
 * Why: on the gateway → service hop, HTTP/1.1 costs more than everything berth
 * itself does per call (profiled: undici plus node:http parsing, and two socket
 * writes per request, were ~60% of both processes' CPU; docs/benchmarks.md).
 * Frames keep Connect's semantics exactly (path, headers, status, body, error
 * JSON), so a handler cannot tell them apart; they only replace HTTP/1.1's
 * framing, and let each side write every frame of one event-loop turn at once.
 * Services accept them on their one port (sniffed by the preface, as HTTP/2 is),
 * and advertise them in the registry; other clients keep speaking Connect, gRPC
 * and gRPC-Web over HTTP.
 *
 * A connection starts with the client's 8-byte preface, then frames both ways:
 *   u32 length of the rest · u8 kind · u32 call id · kind-specific fields:
 *   request   u16 path length · path · u32 headers length · headers JSON · body
 *   response  u16 status      ·        u32 headers length · headers JSON · body
 *   goaway    (nothing): the server is stopping; send no more requests here.
 * Integers are big-endian; headers are a JSON object of lower-case names to strings.
 */
import type { Socket } from 'node:net';

export const framesPreface = Buffer.from('BERTH/1\n', 'latin1');

/** Registry metadata by which an instance says it accepts frames. */
export const framesMetadataKey = 'frames';

export const FrameKind = { request: 1, response: 2, goAway: 3 } as const;

export type FrameHeaders = Record<string, string>;

export interface RequestFrame {
  readonly id: number;
  readonly path: string;
  readonly headers: FrameHeaders;
  readonly body: Buffer;
}

export interface ResponseFrame {
  readonly id: number;
  readonly status: number;
  readonly headers: FrameHeaders;
  readonly body: Buffer;
}

const lengthBytes = 4;
/** kind + id */
const prologueBytes = 5;

/** Prologue, a u16 field, optional text (the path), headers and body. */
function frameOf(
  kind: number,
  id: number,
  field: number,
  headersJson: string,
  body: Buffer | string,
  text?: string,
): Buffer {
  const textBytes = text === undefined ? 0 : Buffer.byteLength(text);
  const headersBytes = Buffer.byteLength(headersJson);
  const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const size = prologueBytes + 2 + textBytes + 4 + headersBytes + bodyBytes;
  const frame = Buffer.allocUnsafe(lengthBytes + size);
  frame.writeUInt32BE(size, 0);
  frame.writeUInt8(kind, 4);
  frame.writeUInt32BE(id, 5);
  frame.writeUInt16BE(field, 9);
  let offset = 11;
  if (text !== undefined) offset += frame.write(text, offset);
  frame.writeUInt32BE(headersBytes, offset);
  offset += 4;
  offset += frame.write(headersJson, offset);
  if (typeof body === 'string') frame.write(body, offset);
  else body.copy(frame, offset);
  return frame;
}

export function encodeRequestFrame(
  id: number,
  path: string,
  headers: FrameHeaders,
  body: Buffer | string,
): Buffer {
  const pathBytes = Buffer.byteLength(path);
  if (pathBytes > 0xffff) throw new RangeError(`path of ${pathBytes} bytes is too long for a frame`);
  return frameOf(FrameKind.request, id, pathBytes, JSON.stringify(headers), body, path);
}

export function encodeResponseFrame(
  id: number,
  status: number,
  headersJson: string,
  body: Buffer | string,
): Buffer {
  return frameOf(FrameKind.response, id, status, headersJson, body);
}

export function encodeGoAwayFrame(): Buffer {
  const frame = Buffer.alloc(lengthBytes + prologueBytes);
  frame.writeUInt32BE(prologueBytes, 0);
  frame.writeUInt8(FrameKind.goAway, 4);
  return frame;
}

export class FrameError extends Error {}

export interface FrameSink {
  request?(frame: RequestFrame): void;
  response?(frame: ResponseFrame): void;
  goAway?(): void;
  /** A frame longer than the reader's limit; its bytes are skipped. */
  oversized?(id: number, kind: number, size: number): void;
}

/**
 * Splits a byte stream into frames. Chunks may hold many frames or part of one;
 * bodies are views into the received bytes, not copies.
 */
export class FrameReader {
  readonly #sink: FrameSink;
  readonly #maxFrameBytes: number;
  /** Received bytes of an incomplete frame, kept as chunks until `#needed` have arrived. */
  #parts: Buffer[] = [];
  #partsBytes = 0;
  #needed = 0;
  /** Bytes of an oversized frame still to skip. */
  #skipping = 0;
  /** Set by pause(): frames are kept, not dispatched, until resume(). */
  #paused = false;
  #pushing = false;

  constructor(sink: FrameSink, maxFrameBytes: number) {
    this.#sink = sink;
    this.#maxFrameBytes = maxFrameBytes;
  }

  /**
   * Stops dispatching, in the middle of a chunk too: a sink that cannot take more
   * (a peer that sends calls and reads no answers) calls it from its callback.
   * Bytes pushed meanwhile are kept; the socket should be paused as well.
   */
  pause(): void {
    this.#paused = true;
  }

  /** Dispatches the frames kept while paused (a sink callback may pause it again). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // From a callback inside push(): its loop goes on by itself.
    if (this.#pushing || this.#partsBytes === 0) return;
    const kept = this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#partsBytes);
    this.#parts = [];
    this.#partsBytes = 0;
    this.push(kept);
  }

  /** Throws FrameError on bytes that are not frames; the connection is then unusable. */
  push(chunk: Buffer): void {
    let data = chunk;
    if (this.#skipping > 0) {
      const skipped = Math.min(this.#skipping, data.length);
      this.#skipping -= skipped;
      data = data.subarray(skipped);
    }
    if (this.#paused) {
      this.#parts.push(data);
      this.#partsBytes += data.length;
      return;
    }
    // Not reset when #split throws: after a FrameError the reader is not used again.
    this.#pushing = true;
    this.#split(data);
    this.#pushing = false;
  }

  #split(chunk: Buffer): void {
    let data = chunk;
    if (this.#parts.length > 0) {
      // Join once the frame is complete, not on every chunk: a large body comes in many.
      this.#parts.push(data);
      this.#partsBytes += data.length;
      if (this.#partsBytes < this.#needed) return;
      data = Buffer.concat(this.#parts, this.#partsBytes);
      this.#parts = [];
      this.#partsBytes = 0;
    }
    let offset = 0;
    while (!this.#paused && data.length - offset >= lengthBytes + prologueBytes) {
      const size = data.readUInt32BE(offset);
      const kind = data[offset + 4];
      const id = data.readUInt32BE(offset + 5);
      if (size < prologueBytes) throw new FrameError(`frame of ${size} bytes is shorter than its prologue`);
      if (size > this.#maxFrameBytes) {
        const available = data.length - offset - lengthBytes;
        this.#skipping = Math.max(0, size - available);
        offset = Math.min(data.length, offset + lengthBytes + size);
        this.#sink.oversized?.(id, kind, size);
        continue;
      }
      if (data.length - offset - lengthBytes < size) break;
      this.#dispatch(
        kind,
        id,
        data.subarray(offset + lengthBytes + prologueBytes, offset + lengthBytes + size),
      );
      offset += lengthBytes + size;
    }
    if (offset < data.length) {
      const rest = data.subarray(offset);
      this.#parts = [rest];
      this.#partsBytes = rest.length;
      const prologueEnd = lengthBytes + prologueBytes;
      this.#needed = rest.length >= prologueEnd ? lengthBytes + rest.readUInt32BE(0) : prologueEnd;
    }
  }

  #dispatch(kind: number, id: number, rest: Buffer): void {
    if (kind !== FrameKind.goAway && rest.length < 2) throw new FrameError(`frame ${id} is truncated`);
    switch (kind) {
      case FrameKind.request: {
        const pathBytes = rest.readUInt16BE(0);
        const path = rest.toString('utf8', 2, 2 + pathBytes);
        const { headers, body } = this.#headersAndBody(rest, 2 + pathBytes);
        this.#sink.request?.({ id, path, headers, body });
        return;
      }
      case FrameKind.response: {
        const status = rest.readUInt16BE(0);
        const { headers, body } = this.#headersAndBody(rest, 2);
        this.#sink.response?.({ id, status, headers, body });
        return;
      }
      case FrameKind.goAway:
        this.#sink.goAway?.();
        return;
      default:
        throw new FrameError(`unknown frame kind ${kind}`);
    }
  }

  #headersAndBody(rest: Buffer, at: number): { headers: FrameHeaders; body: Buffer } {
    if (rest.length < at + 4) throw new FrameError('frame ends inside its header block');
    const headersBytes = rest.readUInt32BE(at);
    const bodyStart = at + 4 + headersBytes;
    if (bodyStart > rest.length) throw new FrameError('frame ends inside its header block');
    let headers: unknown;
    try {
      headers = headersBytes === 0 ? {} : JSON.parse(rest.toString('utf8', at + 4, bodyStart));
    } catch {
      throw new FrameError('frame headers are not JSON');
    }
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
      throw new FrameError('frame headers are not a JSON object');
    }
    for (const name in headers) {
      if (typeof (headers as Record<string, unknown>)[name] !== 'string') {
        throw new FrameError(`frame header ${name} is not a string`);
      }
    }
    return { headers: headers as FrameHeaders, body: rest.subarray(bodyStart) };
  }
}

/**
 * Writes frames to a socket, all those of one event-loop turn in one system call:
 * the first write corks the socket and an immediate uncorks it, after every
 * request that arrived in the same turn has been answered or sent.
 */
export class FrameWriter {
  readonly #socket: Socket;
  #corked = false;
  /** Frames handed to the socket (uncorked) so far; later ones may still be unsent. */
  flushed = 0;
  #written = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Returns the frame's sequence number: it has left this process once `flushed` reaches it. */
  write(frame: Buffer): number {
    if (this.#socket.destroyed) return this.#written;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(() => this.#flush());
    }
    this.#socket.write(frame);
    return ++this.#written;
  }

  #flush(): void {
    this.#corked = false;
    this.flushed = this.#written;
    this.#socket.uncork();
  }
}
