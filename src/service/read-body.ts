/**
 * Reads an HTTP/1.1 request body up to a limit, for the gateway and the service
 * runtime alike.
 *
 * Past the limit the answer is the connection's last, and the connection closes
 * gently after it (unread-requests.ts): it reads and drops a bounded amount more,
 * so a client still sending its body reads the answer instead of a reset. Draining
 * all of the rest instead would let one client make the process read gigabytes it
 * will throw away, and keep the connection for more of them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeAfterAnswer } from './unread-requests.ts';

export interface BodyHandlers {
  /** The whole body, at most the limit; a single chunk is passed as is, not copied. */
  readonly onBody: (body: Buffer) => void;
  /**
   * The declared length (`size` is that length) or the bytes received so far
   * passed the limit. Answer now (413): nothing more is read, and the connection
   * closes after the answer.
   */
  readonly onTooLarge: (size: number) => void;
}

/**
 * Calls exactly one of `onBody` and `onTooLarge`, or neither when the client
 * goes away before the body is complete.
 */
export function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
  handlers: BodyHandlers,
): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limitBytes) {
    refuse(req, res, handlers, declared);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > limitBytes) {
      req.off('data', onData);
      req.off('end', onEnd);
      refuse(req, res, handlers, size);
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () => handlers.onBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
  req.on('data', onData);
  req.on('end', onEnd);
}

function refuse(req: IncomingMessage, res: ServerResponse, handlers: BodyHandlers, size: number): void {
  // Paused until the answer is out: node:http stops reading the socket once the request's buffer is full.
  req.pause();
  closeAfterAnswer(req, res);
  handlers.onTooLarge(size);
}
