/** Round-robin positions by key: which member of a group, or which local subscription, is next. */
export class Cursors {
  readonly #positions = new Map<string, number>();

  /** The next index in `0 … size - 1` for `key`. */
  next(key: string, size: number): number {
    const cursor = this.#positions.get(key) ?? 0;
    this.#positions.set(key, (cursor + 1) % Number.MAX_SAFE_INTEGER);
    return cursor % size;
  }
}
