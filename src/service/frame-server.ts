/**
 * The service side of one berth-frames connection (../protocol/frames.ts):
 * checks the preface, hands each request frame to the service with a function
 * that answers it, and writes the answers of one event-loop turn together.
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
}

export class FrameServerConnection implements FrameSink {
  readonly #socket: Socket;
  readonly #writer: FrameWriter;
  readonly #reader: FrameReader;
  readonly #options: FrameServerOptions;
  /** Preface bytes received so far, until it is complete. */
  #preface: Buffer | undefined = Buffer.alloc(0);

  constructor(socket: Socket, first: Buffer, options: FrameServerOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#writer = new FrameWriter(socket);
    this.#reader = new FrameReader(this, options.maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#receive(first);
    socket.resume();
  }

  /** The service is stopping: callers send no new calls here and close the connection when done. */
  goAway(): void {
    this.#writer.write(encodeGoAwayFrame());
  }

  request(frame: RequestFrame): void {
    this.#options.onRequest(frame, this.#responder(frame.id));
  }

  oversized(id: number, _kind: number, size: number): void {
    this.#options.onOversized(size, this.#responder(id));
  }

  #responder(id: number): FrameResponder {
    return (status, headersJson, body) =>
      this.#writer.write(encodeResponseFrame(id, status, headersJson, body));
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
