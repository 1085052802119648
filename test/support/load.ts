/**
 * Steady request load for resilience tests: `concurrency` loops, each sending the
 * next request as soon as the last one answered, until stop(). Every request's
 * outcome is recorded with its start and end time, so a test can ask what failed
 * during or after an event. Bounded by `maxDurationMs` so it always ends.
 */
import { performance } from 'node:perf_hooks';

export interface Outcome {
  /** performance.now() when the request was sent and when it was answered. */
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  /** HTTP status, or 0 when the request got no answer. */
  readonly status: number;
  readonly body: string;
}

export interface Load {
  readonly outcomes: Outcome[];
  failures(from?: number, to?: number): Outcome[];
  /** Resolves once at least `count` more requests have been answered (or the load ended). */
  answered(count: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LoadOptions {
  readonly url: string;
  readonly body: string;
  readonly concurrency: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Safety stop: the loops end by themselves after this long. */
  readonly maxDurationMs?: number;
  /** Decides whether an answer is a success; default: status 200. */
  readonly isOk?: (status: number, body: string) => boolean;
}

export function startLoad(options: LoadOptions): Load {
  const outcomes: Outcome[] = [];
  const isOk = options.isOk ?? ((status) => status === 200);
  const endAt = performance.now() + (options.maxDurationMs ?? 60_000);
  let stopped = false;
  const waiters = new Set<{ target: number; resolve: () => void }>();

  const record = (outcome: Outcome) => {
    outcomes.push(outcome);
    for (const waiter of waiters) {
      if (outcomes.length >= waiter.target) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };

  const loop = async () => {
    while (!stopped && performance.now() < endAt) {
      const start = performance.now();
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...options.headers },
          body: options.body,
        });
        const body = await response.text();
        record({
          start,
          end: performance.now(),
          ok: isOk(response.status, body),
          status: response.status,
          body,
        });
      } catch (error) {
        record({ start, end: performance.now(), ok: false, status: 0, body: String(error) });
      }
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency }, loop)).then(() => {
    // Loops that ended by themselves release whoever still waits for answers.
    for (const waiter of waiters) waiter.resolve();
    waiters.clear();
  });

  return {
    outcomes,
    failures(from = 0, to = Number.POSITIVE_INFINITY) {
      return outcomes.filter((outcome) => !outcome.ok && outcome.start >= from && outcome.start <= to);
    },
    answered(count) {
      const target = outcomes.length + count;
      return new Promise((resolve) => {
        if (outcomes.length >= target) resolve();
        else waiters.add({ target, resolve });
      });
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** The first few failures, for an assertion message: status and the start of the body. */
export function describeFailures(failures: readonly Outcome[], count = 5): string {
  return failures
    .slice(0, count)
    .map((failure) => `${failure.status} ${failure.body.slice(0, 200)}`)
    .join('\n');
}
