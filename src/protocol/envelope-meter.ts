/**
 * Sizes of the messages in an enveloped stream (gRPC, gRPC-Web, Connect
 * streaming: each message is a flags byte, a 4-byte big-endian length, then the
 * message), read from the bytes as they pass, without buffering them. The
 * gateway limits each message by this rather than the stream's total, so a
 * long-lived stream is not cut off after `bodyLimit` bytes in all.
 */
export class EnvelopeMeter {
  /** Bytes of the current message still to come; 0 while reading a prefix. */
  #remaining = 0;
  readonly #prefix = Buffer.alloc(5);
  #prefixFilled = 0;

  /** Feeds a chunk; returns the declared size of the first message in it over `limit`, if any. */
  overLimit(chunk: Buffer, limit: number): number | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#remaining > 0) {
        const taken = Math.min(this.#remaining, chunk.length - offset);
        this.#remaining -= taken;
        offset += taken;
        continue;
      }
      const taken = Math.min(5 - this.#prefixFilled, chunk.length - offset);
      chunk.copy(this.#prefix, this.#prefixFilled, offset, offset + taken);
      this.#prefixFilled += taken;
      offset += taken;
      if (this.#prefixFilled < 5) continue;
      this.#prefixFilled = 0;
      this.#remaining = this.#prefix.readUInt32BE(1);
      if (this.#remaining > limit) return this.#remaining;
    }
    return undefined;
  }
}
