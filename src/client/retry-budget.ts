/**
 * Retry budget (as Finagle and gRPC's retry throttling): every request earns a
 * fraction of a retry, every retry spends one, plus a small floor per second so a
 * quiet client can still retry. Retries can then add at most `ratio` extra load,
 * however many instances fail at once: they cannot multiply an overload.
 */
export interface RetryBudgetOptions {
  /** Extra load retries may add, as a fraction of requests (0.2 = 20 %). */
  readonly ratio?: number;
  /** Retries always allowed per second, whatever the request rate. */
  readonly minPerSecond?: number;
  readonly now?: () => number;
}

export class RetryBudget {
  readonly #ratio: number;
  readonly #minPerSecond: number;
  readonly #now: () => number;
  readonly #cap: number;
  #tokens: number;
  #lastRefill: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.#ratio = options.ratio ?? 0.2;
    this.#minPerSecond = options.minPerSecond ?? 10;
    this.#now = options.now ?? Date.now;
    this.#cap = Math.max(this.#minPerSecond, 100);
    this.#tokens = this.#minPerSecond;
    this.#lastRefill = this.#now();
  }

  recordRequest(): void {
    this.#tokens = Math.min(this.#cap, this.#tokens + this.#ratio);
  }

  tryRetry(): boolean {
    const now = this.#now();
    const elapsed = now - this.#lastRefill;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#cap, this.#tokens + (elapsed / 1000) * this.#minPerSecond);
      this.#lastRefill = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
