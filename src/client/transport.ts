/**
 * Transport: how one call's bytes reach an instance. The seam between the caller
 * (which instance, retries, deadlines) and the wire:
 *  - http-transport.ts: Connect over HTTP/1.1 keep-alive (undici), to anything;
 *  - frame-transport.ts: berth frames (../protocol/frames.ts), to berth services that advertise them.
 */

export interface PostResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** How an attempt that got no answer failed; decides retry safety and ejection. */
export type SendFailure = 'not-sent' | 'connection-lost' | 'timeout' | 'aborted';

export class SendError extends Error {
  readonly failure: SendFailure;
  constructor(failure: SendFailure, cause: unknown) {
    super(`${failure}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.failure = failure;
  }
}

/** One call's bytes for one instance. */
export interface PostRequest {
  /** `host:port` of the instance. */
  readonly address: string;
  /** Default POST; frames carry POSTs only. */
  readonly method?: 'GET' | 'POST';
  /** `/<package>.<Service>/<Method>` or `/<Service>/<Method>`, with the query of a GET */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface Transport {
  /** Rejects with a SendError when no answer came back. */
  post(request: PostRequest): Promise<PostResult>;
  /** Closes the connections to an address that left the registry, once their calls have finished. */
  forget(address: string): void;
  close(): Promise<void>;
}
