/**
 * The SERVER span of a streamed call (client, server or bidi streaming, served by
 * connect-node): it lasts as long as the response stream, not as the handler's
 * first return, which for an async generator is before it has run at all.
 *
 * The span ends when the response stream completes, when it fails (the error's
 * code; ERROR for a server's failure, as CallSpan.endRpc judges it), or when the
 * call is aborted first: `deadline_exceeded` when its deadline passed, else
 * `canceled` (the client went away, the service is stopping). It counts the
 * messages each way in `berth.rpc.messages_received` and `berth.rpc.messages_sent`
 * (OpenTelemetry's conventions name per-message events, not counts; the counts
 * cost nothing per message).
 *
 * connect-node pulls the response from the handler's generator itself, outside
 * the interceptor that started the span, so each pull runs inside `enter` (the
 * span and the request context): the handler's calls, queries and log lines
 * between its messages are the span's children, as they are in a unary handler.
 */
import type { StreamRequest, StreamResponse } from '@connectrpc/connect';
import { Code, ConnectError } from '../errors/berth-error.ts';
import type { CallSpan } from '../telemetry/rpc-tracing.ts';

/** Runs `fn` inside the call's span and request context. */
export type Enter = <T>(fn: () => T) => T;

// biome-ignore lint/suspicious/noExplicitAny: any method's messages, as connect's own Interceptor type has them.
type AnyStreamRequest = StreamRequest<any, any>;
// biome-ignore lint/suspicious/noExplicitAny: as above.
type AnyStreamResponse = StreamResponse<any, any>;

export class StreamSpan {
  readonly #span: CallSpan;
  readonly #signal: AbortSignal;
  #received = 0;
  #sent = 0;
  #ended = false;
  /**
   * The deadline's abort names it; any other is the call ending from outside: a
   * client that went away (connect-node names its stream's reset, `internal` for
   * an HTTP/2 INTERNAL_ERROR, which is no failure of this server) or a shutdown.
   */
  readonly #onAbort = (): void => {
    const reason: unknown = this.#signal.reason;
    if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) {
      this.#end(Code.DeadlineExceeded, reason.rawMessage);
    } else {
      this.#end(Code.Canceled, reason instanceof Error ? reason.message : 'the call was aborted');
    }
  };

  constructor(span: CallSpan, signal: AbortSignal) {
    this.#span = span;
    this.#signal = signal;
    if (signal.aborted) this.#onAbort();
    else signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** The request, its messages counted as the handler reads them. */
  receiving(request: AnyStreamRequest): AnyStreamRequest {
    const messages = request.message;
    const counted = {
      [Symbol.asyncIterator]: () => {
        const iterator = messages[Symbol.asyncIterator]();
        return {
          next: async () => {
            const result = await iterator.next();
            if (!result.done) this.#received++;
            return result;
          },
          return: async (value?: unknown) => (await iterator.return?.(value)) ?? { done: true, value },
        };
      },
    };
    return { ...request, message: counted };
  }

  /** The response, its messages counted and pulled inside `enter`; the span ends with the stream. */
  sending(response: AnyStreamResponse, enter: Enter): AnyStreamResponse {
    const messages = response.message;
    const observed = {
      [Symbol.asyncIterator]: () => {
        const iterator = enter(() => messages[Symbol.asyncIterator]());
        return {
          next: async () => {
            try {
              const result = await enter(() => iterator.next());
              if (result.done) this.#end();
              else this.#sent++;
              return result;
            } catch (error) {
              this.failed(error);
              throw error;
            }
          },
          // connect stops pulling early only when the call is over for it: the client went away.
          return: async (value?: unknown) => {
            this.#end(Code.Canceled, 'the response stream was closed before its end');
            return (await enter(() => iterator.return?.(value))) ?? { done: true, value };
          },
        };
      },
    };
    return { ...response, message: observed };
  }

  /** The handler failed, before its first message or while streaming. */
  failed(error: unknown): void {
    const connectError = ConnectError.from(error);
    this.#end(connectError.code, connectError.rawMessage);
  }

  #end(code?: Code, message?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.#span.setAttribute('berth.rpc.messages_received', this.#received);
    this.#span.setAttribute('berth.rpc.messages_sent', this.#sent);
    this.#span.endRpc(code, message);
  }
}
