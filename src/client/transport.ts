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

export interface Transport {
  /** One request; rejects with a SendError when no answer came back. */
  post(
    address: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<PostResult>;
  /** Closes the connections to an address that left the registry, once their calls have finished. */
  forget(address: string): void;
  close(): Promise<void>;
}
