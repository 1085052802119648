/**
 * berth frames on the service's port: each connection is a FrameServerConnection
 * (frame-server.ts, the wire side); each request frame is answered as a unary
 * call by the lean path (unary-server.ts).
 */
import type { Socket } from 'node:net';
import { unprocessedHeader } from '../client/caller.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import type { Logger } from '../log/logger.ts';
import { codecOf, contentTypeJson, encodeError, isIdentity } from '../protocol/connect-unary.ts';
import type { RequestFrame } from '../protocol/frames.ts';
import { type FrameResponder, FrameServerConnection } from './frame-server.ts';
import { tooLarge, type UnaryReply, type UnaryServer } from './unary-server.ts';

export class FramesEndpoint {
  readonly #unary: UnaryServer;
  readonly #logger: Logger;
  readonly #bodyLimitBytes: number;
  readonly #connections = new Set<FrameServerConnection>();

  constructor(unary: UnaryServer, logger: Logger, bodyLimitBytes: number) {
    this.#unary = unary;
    this.#logger = logger;
    this.#bodyLimitBytes = bodyLimitBytes;
  }

  /** Takes a connection that started with berth's preface; `first` is its first chunk. */
  accept(socket: Socket, first: Buffer): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const connection = new FrameServerConnection(socket, first, {
      // The frame's path and headers come on top of the body.
      maxFrameBytes: this.#bodyLimitBytes + 64 * 1024,
      onRequest: (frame, respond) => this.#serve(frame, respond),
      onProtocolError: (reason) =>
        this.#logger.warn({ remote, reason }, 'dropped a connection that does not speak berth frames'),
      onOversized: (size, respond) =>
        respond(
          413,
          frameHeadersJson(contentTypeJson, false),
          encodeError(tooLarge(this.#bodyLimitBytes, size)).body,
        ),
    });
    this.#connections.add(connection);
    socket.once('close', () => this.#connections.delete(connection));
  }

  /** Shutdown: tells every connected caller to send no new calls here. */
  goAway(): void {
    for (const connection of this.#connections) connection.goAway();
  }

  #serve(frame: RequestFrame, respond: FrameResponder): void {
    const reply: UnaryReply = (status, contentType, body, unprocessed, metadata) =>
      respond(
        status,
        metadata === undefined
          ? frameHeadersJson(contentType, unprocessed)
          : JSON.stringify({ ...metadata, 'content-type': contentType }),
        body,
      );
    const route = this.#unary.route(frame.path);
    // Callers send compressed calls over HTTP (connect-node decompresses them); frames carry none.
    const codec = isIdentity(frame.headers['content-encoding']) && codecOf(frame.headers['content-type']);
    if (route && codec) {
      if (frame.body.length > this.#bodyLimitBytes)
        this.#unary.replyTooLarge(route, reply, frame.body.length);
      else this.#unary.answer(route, codec, frame.path, frame.headers, frame.body, reply);
      return;
    }
    if (route) {
      const unsupported = new ConnectError(
        `unsupported content type ${frame.headers['content-type']} or encoding ${frame.headers['content-encoding']}`,
        Code.InvalidArgument,
      );
      reply(415, contentTypeJson, encodeError(unsupported).body, false);
    } else reply(404, contentTypeJson, this.#unary.noSuchMethod(frame.path), false);
  }
}

/** Response headers of a frame, as JSON: one of four strings, made once. */
const frameHeaders = new Map<string, string>();
function frameHeadersJson(contentType: string, unprocessed: boolean): string {
  const key = unprocessed ? `${contentType};unprocessed` : contentType;
  let json = frameHeaders.get(key);
  if (json === undefined) {
    json = JSON.stringify({
      'content-type': contentType,
      ...(unprocessed ? { [unprocessedHeader]: '1' } : {}),
    });
    frameHeaders.set(key, json);
  }
  return json;
}
