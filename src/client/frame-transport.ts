/**
 * Calls to berth services over berth frames (../protocol/frames.ts): one TCP
 * connection per address, every call of an event-loop turn written at once,
 * answers matched by call id. One connection is enough: a Node process serves
 * on one thread, and the registry gives the caller every instance to balance over.
 */
import { connect, type Socket } from 'node:net';
import { deadlines, type PendingDeadline } from '../context/deadlines.ts';
import { outsideRequest } from '../context/request-context.ts';
import {
  encodeRequestFrame,
  FrameReader,
  type FrameSink,
  FrameWriter,
  framesPreface,
  type ResponseFrame,
} from '../protocol/frames.ts';
import { type PostRequest, type PostResult, SendError, type Transport } from './transport.ts';

const connectTimeoutMs = 2_000;
/** Answers are at most this large; a larger one breaks the connection. */
const maxResponseBytes = 64 * 1024 * 1024;

export class FrameTransport implements Transport {
  readonly #connections = new Map<string, FrameConnection>();

  post(request: PostRequest): Promise<PostResult> {
    const { address } = request;
    let connection = this.#connections.get(address);
    if (connection === undefined || !connection.usable) {
      const opened: FrameConnection = outsideRequest(
        () =>
          new FrameConnection(address, () => {
            if (this.#connections.get(address) === opened) this.#connections.delete(address);
          }),
      );
      this.#connections.set(address, opened);
      connection = opened;
    }
    return connection.post(request);
  }

  forget(address: string): void {
    const connection = this.#connections.get(address);
    this.#connections.delete(address);
    connection?.endWhenIdle();
  }

  async close(): Promise<void> {
    const connections = [...this.#connections.values()];
    this.#connections.clear();
    for (const connection of connections) connection.destroy();
  }
}

interface PendingCall {
  readonly resolve: (result: PostResult) => void;
  readonly reject: (error: SendError) => void;
  /** The writer's sequence number of its frame. */
  readonly sequence: number;
  expiry: PendingDeadline | undefined;
  stopListening: (() => void) | undefined;
}

class FrameConnection implements FrameSink {
  readonly #socket: Socket;
  readonly #writer: FrameWriter;
  readonly #reader: FrameReader;
  readonly #pending = new Map<number, PendingCall>();
  #nextId = 0;
  #connected = false;
  /** GOAWAY received or the address was forgotten: no new calls, end once idle. */
  #ending = false;
  #error: Error | undefined;

  constructor(address: string, onClosed: () => void) {
    const separator = address.lastIndexOf(':');
    const host = address.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
    this.#socket = connect({ host, port: Number(address.slice(separator + 1)), noDelay: true });
    this.#writer = new FrameWriter(this.#socket);
    this.#reader = new FrameReader(this, maxResponseBytes);
    const connectTimer = setTimeout(
      () =>
        this.#socket.destroy(new Error(`connecting to ${address} timed out after ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    this.#socket.write(framesPreface);
    this.#socket.once('connect', () => {
      this.#connected = true;
      clearTimeout(connectTimer);
    });
    this.#socket.on('data', (chunk: Buffer) => {
      try {
        this.#reader.push(chunk);
      } catch (error) {
        this.#socket.destroy(error as Error);
      }
    });
    this.#socket.on('error', (error) => {
      this.#error = error;
    });
    this.#socket.on('close', () => {
      clearTimeout(connectTimer);
      onClosed();
      const cause = this.#error ?? new Error(`connection to ${address} closed`);
      for (const [id, call] of this.#pending) {
        // Not flushed, or never connected: the service cannot have seen it, so another may take it.
        const sent = this.#connected && call.sequence <= this.#writer.flushed;
        this.#settle(id, call)?.reject(new SendError(sent ? 'connection-lost' : 'not-sent', cause));
      }
    });
  }

  get usable(): boolean {
    return !this.#ending && !this.#socket.destroyed;
  }

  post({ path, headers, body, timeoutMs, signal }: PostRequest): Promise<PostResult> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new SendError('aborted', signal.reason));
        return;
      }
      this.#nextId = this.#nextId === 0xffffffff ? 1 : this.#nextId + 1;
      const id = this.#nextId;
      let frame: Buffer;
      try {
        frame = encodeRequestFrame(id, path, headers, body);
      } catch (error) {
        reject(new SendError('not-sent', error));
        return;
      }
      const call: PendingCall = {
        resolve,
        reject,
        sequence: this.#writer.write(frame),
        expiry: undefined,
        stopListening: undefined,
      };
      this.#pending.set(id, call);
      call.expiry = deadlines.add(Date.now() + timeoutMs, () =>
        this.#settle(id, call)?.reject(
          new SendError('timeout', new Error(`no answer within ${timeoutMs} ms`)),
        ),
      );
      if (signal) {
        const abort = () => this.#settle(id, call)?.reject(new SendError('aborted', signal.reason));
        signal.addEventListener('abort', abort, { once: true });
        call.stopListening = () => signal.removeEventListener('abort', abort);
      }
    });
  }

  response(frame: ResponseFrame): void {
    const call = this.#pending.get(frame.id);
    if (call === undefined) return; // timed out or aborted meanwhile
    this.#settle(frame.id, call)?.resolve({ status: frame.status, headers: frame.headers, body: frame.body });
  }

  oversized(id: number, _kind: number, size: number): void {
    const call = this.#pending.get(id);
    if (call === undefined) return;
    this.#settle(id, call)?.reject(
      new SendError('connection-lost', new Error(`answer of ${size} bytes exceeds ${maxResponseBytes}`)),
    );
  }

  goAway(): void {
    this.endWhenIdle();
  }

  endWhenIdle(): void {
    this.#ending = true;
    if (this.#pending.size === 0) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Forgets a call (once) and returns it to be resolved or rejected; undefined if already settled. */
  #settle(id: number, call: PendingCall): PendingCall | undefined {
    if (this.#pending.get(id) !== call) return undefined;
    this.#pending.delete(id);
    call.expiry?.cancel();
    call.stopListening?.();
    if (this.#ending && this.#pending.size === 0) this.#socket.end();
    return call;
  }
}
