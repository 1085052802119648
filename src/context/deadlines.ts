/**
 * Deadlines of in-flight calls, checked by one interval timer rather than one
 * setTimeout per call: calls carry distinct remaining times, and each distinct
 * duration made Node create and sort a new timer list (~1-2 µs per call,
 * profiled on the service's hot path). A deadline fires at most `tickMs` late;
 * the timer runs only while some deadline is pending.
 */
import { outsideRequest } from './request-context.ts';

export interface PendingDeadline {
  cancel(): void;
}

interface Entry extends PendingDeadline {
  readonly at: number;
  readonly onExpire: () => void;
}

export class DeadlineSweeper {
  readonly #entries = new Set<Entry>();
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(tickMs = 10) {
    this.#tickMs = tickMs;
  }

  /** Calls `onExpire` once `at` (ms since epoch) has passed, unless cancelled first. */
  add(at: number, onExpire: () => void): PendingDeadline {
    const entries = this.#entries;
    const entry: Entry = {
      at,
      onExpire,
      cancel() {
        entries.delete(entry);
      },
    };
    entries.add(entry);
    if (this.#timer === undefined) {
      // unref: a pending deadline alone must not keep a process alive that has nothing else to do.
      this.#timer = outsideRequest(() => setInterval(() => this.#sweep(), this.#tickMs).unref());
    }
    return entry;
  }

  #sweep(): void {
    const now = Date.now();
    for (const entry of this.#entries) {
      if (entry.at > now) continue;
      this.#entries.delete(entry);
      entry.onExpire();
    }
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** The process's sweeper, shared by servers and clients. */
export const deadlines = new DeadlineSweeper();
