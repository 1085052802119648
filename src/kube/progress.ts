/**
 * Live progress of long operations (rollouts, waits). On a terminal, one line per
 * item redrawn in place; in a pipe or CI log, a plain line whenever an item's
 * state changes, so logs stay readable.
 */
import type { Writable } from 'node:stream';

export interface Progress {
  /** Sets the current state of one item (a service's rollout). */
  update(item: string, state: string): void;
  /** A line that stays (a decision, a warning). */
  note(line: string): void;
  /** Leaves the live area; later output goes below it. */
  end(): void;
}

export function createProgress(out: Writable, isTty: boolean): Progress {
  return isTty ? new TerminalProgress(out) : new LineProgress(out);
}

class LineProgress implements Progress {
  readonly #out: Writable;
  readonly #last = new Map<string, string>();

  constructor(out: Writable) {
    this.#out = out;
  }

  update(item: string, state: string): void {
    if (this.#last.get(item) === state) return;
    this.#last.set(item, state);
    this.#out.write(`${item}: ${state}\n`);
  }

  note(line: string): void {
    this.#out.write(`${line}\n`);
  }

  end(): void {}
}

class TerminalProgress implements Progress {
  readonly #out: Writable;
  readonly #states = new Map<string, string>();
  #drawn = 0;

  constructor(out: Writable) {
    this.#out = out;
  }

  update(item: string, state: string): void {
    if (this.#states.get(item) === state) return;
    this.#states.set(item, state);
    this.#redraw();
  }

  note(line: string): void {
    this.#clear();
    this.#out.write(`${line}\n`);
    this.#redraw();
  }

  end(): void {
    this.#drawn = 0;
    this.#states.clear();
  }

  #clear(): void {
    if (this.#drawn > 0) this.#out.write(`\x1b[${this.#drawn}A\x1b[J`);
    this.#drawn = 0;
  }

  #redraw(): void {
    this.#clear();
    const width = Math.max(0, ...[...this.#states.keys()].map((item) => item.length));
    for (const [item, state] of this.#states) this.#out.write(`  ${item.padEnd(width)}  ${state}\n`);
    this.#drawn = this.#states.size;
  }
}
