/**
 * The service side of one berth-frames connection (../protocol/frames.ts):
 * checks the preface, hands each request frame to the service with a function
 * that answers it, and writes the answers of one event-loop turn together.
 *
 * What a peer can make it hold is bounded: it stops reading (the socket and the
 * frames already read) while `maxInFlight` calls are unanswered or more than
 * `maxQueuedBytes` of answers wait for the peer to read them, and reads again
 * once both are back under. When the socket's idle timeout fires (set by
 * dual-protocol-server.ts) with no call in flight, it sends GOAWAY, so callers
 * close it; if it is still idle at the next one, it destroys it.
 */
import type { Socket } from 'node:net';
import {
  encodeGoAwayFrame,
  encodeResponseFrame,
  FrameReader,
  type FrameSink,
  FrameWriter,
  framesPreface,
  type RequestFrame,
} from '../protocol/frames.ts';

/** Answers one request frame; `headersJson` is the response's headers as a JSON object. */
export type FrameResponder = (status: number, headersJson: string, body: Buffer | string) => void;

export interface FrameServerOptions {
  /** Largest request frame read; a larger one is answered by `onOversized` and skipped. */
  readonly maxFrameBytes: number;
  readonly onRequest: (frame: RequestFrame, respond: FrameResponder) => void;
  readonly onOversized: (size: number, respond: FrameResponder) => void;
  /** The peer sent something that is not berth frames; the connection has been dropped. */
  readonly onProtocolError: (reason: string) => void;
  /** Unanswered calls at which reading stops; default frameConnectionDefaults. */
  readonly maxInFlight?: number;
  /** Bytes of answers queued for the peer past which reading stops; default frameConnectionDefaults. */
  readonly maxQueuedBytes?: number;
}

export const frameConnectionDefaults = {
  maxInFlight: 1024,
  maxQueuedBytes: 1024 * 1024,
} as const;

export class FrameServerConnection implements FrameSink {
  readonly #socket: Socket;
  readonly #writer: FrameWriter;
  readonly #reader: FrameReader;
  readonly #options: FrameServerOptions;
  readonly #maxInFlight: number;
  readonly #maxQueuedBytes: number;
  /** Preface bytes received so far, until it is complete. */
  #preface: Buffer | undefined = Buffer.alloc(0);
  #inFlight = 0;
  /** Reading stopped until calls are answered or the peer reads its answers. */
  #held = false;
  /** GOAWAY sent because the connection was idle. */
  #idleGoAwaySent = false;

  constructor(socket: Socket, first: Buffer, options: FrameServerOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#maxInFlight = options.maxInFlight ?? frameConnectionDefaults.maxInFlight;
    // Not below the socket's high-water mark: only a write past it makes 'drain' fire.
    this.#maxQueuedBytes = Math.max(
      options.maxQueuedBytes ?? frameConnectionDefaults.maxQueuedBytes,
      socket.writableHighWaterMark,
    );
    this.#writer = new FrameWriter(socket);
    this.#reader = new FrameReader(this, options.maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('drain', () => this.#release());
    socket.on('timeout', () => this.#onIdle());
    this.#receive(first);
    if (!this.#held) socket.resume();
  }

  /** The service is stopping: callers send no new calls here and close the connection when done. */
  goAway(): void {
    this.#writer.write(encodeGoAwayFrame());
  }

  request(frame: RequestFrame): void {
    this.#inFlight++;
    this.#options.onRequest(frame, this.#responder(frame.id));
    this.#holdIfFull();
  }

  oversized(id: number, _kind: number, size: number): void {
    this.#inFlight++;
    this.#options.onOversized(size, this.#responder(id));
    this.#holdIfFull();
  }

  #responder(id: number): FrameResponder {
    return (status, headersJson, body) => {
      this.#inFlight--;
      this.#writer.write(encodeResponseFrame(id, status, headersJson, body));
      if (this.#held) this.#release();
    };
  }

  #holdIfFull(): void {
    if (
      !this.#held &&
      (this.#inFlight >= this.#maxInFlight || this.#socket.writableLength > this.#maxQueuedBytes)
    ) {
      this.#held = true;
      this.#reader.pause();
      this.#socket.pause();
    }
  }

  #release(): void {
    if (
      this.#held &&
      this.#inFlight < this.#maxInFlight &&
      this.#socket.writableLength <= this.#maxQueuedBytes
    ) {
      this.#held = false;
      this.#socket.resume();
      try {
        this.#reader.resume();
      } catch (error) {
        this.#drop((error as Error).message);
      }
    }
  }

  /** The socket's idle timeout fired; a call in flight restarts it when answered. */
  #onIdle(): void {
    if (this.#inFlight > 0) return;
    if (this.#idleGoAwaySent) this.#socket.destroy();
    else {
      this.#idleGoAwaySent = true;
      this.goAway();
    }
  }

  #receive(chunk: Buffer): void {
    let data = chunk;
    if (this.#preface !== undefined) {
      const received = Buffer.concat([this.#preface, data]);
      const compared = Math.min(received.length, framesPreface.length);
      if (!received.subarray(0, compared).equals(framesPreface.subarray(0, compared))) {
        this.#drop(`bad preface ${JSON.stringify(received.subarray(0, compared).toString('latin1'))}`);
        return;
      }
      if (received.length < framesPreface.length) {
        this.#preface = received;
        return;
      }
      this.#preface = undefined;
      data = received.subarray(framesPreface.length);
    }
    try {
      this.#reader.push(data);
    } catch (error) {
      this.#drop((error as Error).message);
    }
  }

  /** Not frames: nothing more on this connection can be trusted. */
  #drop(reason: string): void {
    this.#socket.destroy();
    this.#options.onProtocolError(reason);
  }
}
