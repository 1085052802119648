/**
 * Answers sent before their request was read to the end — an error for a
 * streaming request past the body limit, say — must not leave the client
 * sending into a connection nobody reads. connect-node neither reads the rest
 * nor stops the client, and the Connect conformance suite's clients then hang:
 *  - HTTP/1.1: the connection closes after such an answer (node:http would
 *    otherwise read and discard the rest of the body, however long, and keep
 *    the next request on that connection waiting behind it), and closes the
 *    way Go's net/http and nginx do (a "lingering close"): first only its
 *    sending side, then it reads and drops what the client still sends until
 *    the client closes too, for at most `lingerMs`. Closing both sides at once
 *    with unread bytes makes the kernel answer the client's next write with a
 *    reset, and a client still writing its body then reports a broken pipe
 *    instead of the answer that was already on its way;
 *  - HTTP/2: the stream is reset once the answer is out, which tells the client
 *    to stop sending (RFC 9113 §8.1) and frees its flow-control window.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';

/** RST_STREAM's CANCEL (RFC 9113 §7); not from node:http2, loaded only by the first HTTP/2 connection. */
const cancel = 0x8;

/**
 * What a connection closed after an early answer still reads and drops: Go's net/http
 * waits 0.5 s, nginx up to 30 s. A client still sending a body of ordinary size
 * finishes well within both bounds; one sending more is reset. node:http's parser
 * reads the socket natively, so the bytes are counted from `socket.bytesRead` on a
 * tick, and a fast client may overshoot `lingerBytes` by one tick's worth.
 */
const lingerMs = 2_000;
const lingerBytes = 1024 * 1024;
const lingerTickMs = 50;

export function closeWhenAnsweredEarly(req: IncomingMessage, res: ServerResponse): void {
  // connect-node reads the body with for-await; breaking off that loop would destroy
  // the request, and node:http then destroys the socket at once, answer or not.
  req[Symbol.asyncIterator] = keepOpenIterator;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!req.complete) closeAfterAnswer(req, res);
    return (writeHead as (...rest: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * The answer to `req` is the connection's last, sent before the request was read to
 * the end: once it is out, the connection closes gently (the lingering close above).
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
  // node:http ends a connection it does not keep with destroySoon: FIN, then destroy.
  req.socket.destroySoon = lingeringClose;
  // node:http discards the rest of a request nobody reads (req._dump) but leaves one
  // paused mid-read paused, and with it the socket; flowing, it is discarded too.
  res.once('finish', () => req.resume());
}

function keepOpenIterator(this: IncomingMessage): ReturnType<IncomingMessage[typeof Symbol.asyncIterator]> {
  return this.iterator({ destroyOnReturn: false }) as ReturnType<
    IncomingMessage[typeof Symbol.asyncIterator]
  >;
}

function lingeringClose(this: Socket): void {
  if (this.writable) this.end();
  const readBefore = this.bytesRead;
  let ticks = 0;
  const check = setInterval(() => {
    ticks += 1;
    if (ticks * lingerTickMs >= lingerMs || this.bytesRead - readBefore > lingerBytes) this.destroy();
  }, lingerTickMs);
  check.unref();
  this.once('close', () => clearInterval(check));
}

/**
 * Resets the stream once its answer is out, if the request is still coming.
 * An answer begun with writeHead (every one berth and connect-node send) ends
 * with trailers, which node:http2 sends from its own earlier 'wantTrailers'
 * listener; empty ones go as a last DATA frame, and node:http2 sends a reset
 * ahead of queued DATA, so the reset waits one turn of the event loop, after
 * node:http2 has written what it queued (the client would lose the answer).
 * CANCEL, not the NO_ERROR RFC 9113 §8.1 suggests: Node's http2 client never
 * closes a stream reset with NO_ERROR while part of its request is unsent.
 */
export function resetWhenAnswered(
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  then?: () => void,
): void {
  const reset = () => {
    if (req.complete || res.stream.destroyed) return;
    then?.();
    setImmediate(() => {
      if (!req.complete && !res.stream.destroyed) res.stream.close(cancel);
    });
  };
  if (res.stream.sentTrailers !== undefined) reset();
  else res.stream.once('wantTrailers', reset);
}
