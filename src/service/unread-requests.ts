/**
 * Answers sent before their request was read to the end — an error for a
 * streaming request past the body limit, say — must not leave the client
 * sending into a connection nobody reads. connect-node neither reads the rest
 * nor stops the client, and the Connect conformance suite's clients then hang:
 *  - HTTP/1.1: the connection closes after such an answer (node:http would
 *    otherwise read and discard the rest of the body, however long, and keep
 *    the next request on that connection waiting behind it);
 *  - HTTP/2: the stream is reset once the answer is out, which tells the client
 *    to stop sending (RFC 9113 §8.1) and frees its flow-control window.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** RST_STREAM's CANCEL (RFC 9113 §7); not from node:http2, loaded only by the first HTTP/2 connection. */
const cancel = 0x8;

export function closeWhenAnsweredEarly(req: IncomingMessage, res: ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!req.complete) res.shouldKeepAlive = false;
    return (writeHead as (...rest: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
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
