/**
 * gRPC pass-through: an HTTP/2 stream from a client is relayed to an instance over
 * an HTTP/2 connection of our own, headers, body and trailers included, so any
 * gRPC method (streaming too) works through the gateway without knowing its types.
 */
import {
  type ClientHttp2Session,
  connect,
  constants,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { CallOutcome } from '../balancer/balancer.ts';
import { deadlines } from '../context/deadlines.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { EnvelopeMeter } from '../protocol/envelope-meter.ts';
import { clientDeadline, formatGrpcTimeout } from '../protocol/grpc-timeout.ts';
import { resetWhenAnswered } from '../service/unread-requests.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';
import { sendProtocolError } from './error-answers.ts';

const { HTTP2_HEADER_PATH, HTTP2_HEADER_METHOD, HTTP2_HEADER_STATUS, NGHTTP2_FLAG_END_STREAM } = constants;

export class Http2Upstreams {
  readonly #sessions = new Map<string, ClientHttp2Session>();

  session(address: string): ClientHttp2Session {
    let session = this.#sessions.get(address);
    if (!session || session.closed || session.destroyed) {
      session = connect(`http://${address}`);
      const current = session;
      current.on('error', () => this.#sessions.delete(address));
      current.on('close', () => {
        if (this.#sessions.get(address) === current) this.#sessions.delete(address);
      });
      this.#sessions.set(address, current);
    }
    return session;
  }

  close(): void {
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
  }
}

/** What the gateway allows one relayed call. */
export interface RelayLimits {
  /**
   * Deadline of the call; a client's shorter `grpc-timeout` wins. Undefined for
   * streaming methods, which may rightly run for long: only the client's own
   * `grpc-timeout` bounds them.
   */
  readonly timeoutMs: number | undefined;
  /**
   * Largest request message of an enveloped stream (gRPC, gRPC-Web, Connect
   * streaming), or request body otherwise; past it the call ends RESOURCE_EXHAUSTED.
   */
  readonly bodyLimitBytes: number;
}

/**
 * Relays one request, with `span`'s trace context when tracing. `onSettled` is called once: with `reached` when the instance
 * answered, or with the error when it could not be reached (connection refused or
 * lost before any answer), so the balancer and ejector learn either way.
 *
 * Whichever side finishes first, the other's stream does not stay open: past the
 * deadline or the body limit the gateway answers the client itself and resets the
 * instance's stream; a client that goes away resets it too; an instance that
 * answers before the request is complete (an early error) has the client's stream
 * reset once the answer is written, so the client stops sending.
 */
export function relayHttp2(
  upstreams: Http2Upstreams,
  address: string,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  limits: RelayLimits,
  span: CallSpan | undefined,
  onSettled: (outcome: CallOutcome, error?: Error) => void,
): void {
  let settled = false;
  const settle = (outcome: CallOutcome, error?: Error) => {
    if (settled) return;
    settled = true;
    onSettled(outcome, error);
  };
  // The client's deadline, in the header its protocol uses, is passed on capped by
  // the gateway's; one the client did not give is the gateway's own timer only.
  const given = clientDeadline((name) => req.headers[name]);
  const clientTimeoutMs = given?.timeoutMs;
  const timeoutMs =
    limits.timeoutMs === undefined
      ? clientTimeoutMs
      : Math.min(clientTimeoutMs ?? limits.timeoutMs, limits.timeoutMs);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':') || name === 'connection' || name === 'host') continue;
    headers[name] = value;
  }
  headers[HTTP2_HEADER_METHOD] = req.method;
  headers[HTTP2_HEADER_PATH] = req.url;
  // The gateway's span, in place of the client's traceparent: the instance's span is its child.
  span?.inject(headers);
  if (given && timeoutMs !== undefined) {
    headers[given.header] =
      given.header === 'grpc-timeout' ? formatGrpcTimeout(timeoutMs) : String(timeoutMs);
  }
  /** gRPC fails on an HTTP 200: the span learns how the call ended from the trailers. */
  let trailersSent = false;
  const addTrailers = (trailers: Record<string, string | string[]>) => {
    trailersSent = true;
    const grpcStatus = trailers['grpc-status'];
    if (span !== undefined && typeof grpcStatus === 'string') span.setGrpcStatus(Number(grpcStatus));
    res.addTrailers(trailers);
  };
  const contentType = req.headers['content-type'] ?? '';
  const grpc = contentType.startsWith('application/grpc') && !contentType.startsWith('application/grpc-web');
  let upstream: ReturnType<ClientHttp2Session['request']>;
  try {
    // Relayed as sent: node:http2 would end a GET's or DELETE's stream at once,
    // and a body the client still sends with one would then fail the relay.
    upstream = upstreams.session(address).request(headers, { endStream: false });
  } catch (error) {
    settle({ reached: false, connectFailure: true }, error as Error);
    return;
  }
  /**
   * The gateway ends the call itself, in the caller's protocol, and resets both
   * streams. Once the instance's headers have gone out, only gRPC can still say
   * why (in trailers); any other stream is reset.
   */
  let endedByGateway = false;
  const endWithStatus = (code: Code, message: string) => {
    endedByGateway = true;
    deadline.cancel();
    upstream.unpipe(res.stream);
    if (!upstream.closed) upstream.close(constants.NGHTTP2_CANCEL);
    if (!res.writableEnded && !res.stream.destroyed) {
      if (!res.headersSent) sendProtocolError(res, contentType, new ConnectError(message, code));
      else if (grpc) {
        addTrailers({ 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) });
        res.end();
      } else res.stream.close(constants.NGHTTP2_CANCEL);
    }
    stopRelaying();
  };
  /** A client still sending after its answer is no longer relayed (unread-requests.ts). */
  let answered = false;
  const stopRelaying = () => {
    if (answered) return;
    answered = true;
    resetWhenAnswered(req, res, () => {
      req.off('data', countBytes);
      req.unpipe(upstream);
    });
  };
  const deadlineAt = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  const deadline =
    deadlineAt === undefined
      ? { cancel() {} }
      : deadlines.add(deadlineAt, () =>
          endWithStatus(Code.DeadlineExceeded, `deadline of ${timeoutMs} ms exceeded at the gateway`),
        );
  // Enveloped streams (gRPC, gRPC-Web, Connect streaming) are limited per message,
  // so a long-lived stream is not cut off after the limit in all; other bodies as a whole.
  const meter =
    contentType.startsWith('application/grpc') || contentType.startsWith('application/connect+')
      ? new EnvelopeMeter()
      : undefined;
  let received = 0;
  const countBytes = (chunk: Buffer) => {
    if (meter) {
      const size = meter.overLimit(chunk, limits.bodyLimitBytes);
      if (size !== undefined) {
        endWithStatus(
          Code.ResourceExhausted,
          `a request message of ${size} bytes exceeds the limit of ${limits.bodyLimitBytes} bytes`,
        );
      }
      return;
    }
    received += chunk.length;
    if (received > limits.bodyLimitBytes) {
      endWithStatus(
        Code.ResourceExhausted,
        `request body exceeds the limit of ${limits.bodyLimitBytes} bytes`,
      );
    }
  };
  req.on('data', countBytes);
  upstream.on('response', (responseHeaders, flags) => {
    settle({ reached: true, connectFailure: false });
    const status = Number(responseHeaders[HTTP2_HEADER_STATUS] ?? 200);
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(responseHeaders)) {
      if (value !== undefined && !name.startsWith(':')) out[name] = value as string | string[];
    }
    // A trailers-only answer (gRPC's error before any message) stays one: relayed as
    // headers and an empty end, gRPC clients would find no status.
    if (grpc && flags & NGHTTP2_FLAG_END_STREAM && out['grpc-status'] !== undefined) {
      const { 'content-type': type, date, ...trailers } = out;
      res.writeHead(status, { 'content-type': String(type ?? 'application/grpc') });
      addTrailers(trailers);
      upstream.resume();
      return;
    }
    res.writeHead(status, out);
    upstream.pipe(res.stream, { end: false });
  });
  upstream.on('trailers', (trailers) => {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(trailers)) {
      if (value !== undefined && !name.startsWith(':')) out[name] = value as string | string[];
    }
    addTrailers(out);
  });
  /**
   * A gRPC client needs a status in trailers: an instance's stream that ended or
   * was reset without them (its deadline, its crash) gets one from the gateway.
   */
  const endGrpcWithoutTrailers = () => {
    if (grpc && res.headersSent && !trailersSent) {
      // Past the deadline, whatever the instance did, the call failed by it. Node's
      // client gives no dependable reset code here (0 for a CANCEL), so no finer mapping.
      const [code, message] =
        deadlineAt !== undefined && Date.now() >= deadlineAt
          ? [Code.DeadlineExceeded, `the deadline passed before instance ${address} answered in full`]
          : [Code.Internal, `instance ${address} ended the stream without a gRPC status`];
      addTrailers({ 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) });
    }
    res.end();
  };
  upstream.on('end', () => {
    deadline.cancel();
    // Without trailers, a gRPC stream is given its status at 'close' (an end or a reset).
    if (res.writableEnded || (grpc && !trailersSent)) return;
    res.end();
    stopRelaying();
  });
  upstream.on('error', (error) => {
    deadline.cancel();
    // The gateway answered already (its deadline, its body limit), or the instance
    // did in full: what becomes of the instance's stream no longer matters.
    if (endedByGateway || res.writableEnded) return;
    if (!res.headersSent) {
      settle({ reached: false, connectFailure: true }, error); // the gateway answers UNAVAILABLE
      stopRelaying();
    } else res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  });
  upstream.on('close', () => {
    // Closed before any answer and without an error: the client gave up first.
    settle({ reached: false, connectFailure: false });
    // Reset by the instance after its headers, with a code that is no error (CANCEL).
    if (!endedByGateway && res.headersSent && !res.writableEnded && !res.stream.destroyed) {
      deadline.cancel();
      if (grpc) endGrpcWithoutTrailers();
      else res.stream.close(constants.NGHTTP2_CANCEL);
      stopRelaying();
    }
  });
  req.pipe(upstream);
  // The client went away (reset, or its connection closed): nobody waits for the instance.
  res.stream.once('close', () => {
    deadline.cancel();
    if (!upstream.closed) upstream.close(constants.NGHTTP2_CANCEL);
  });
}
