import { after } from 'node:test';

/** Registers a cleanup function: node:test's `after`, or `t.after` bound to a test. */
export type Cleanup = (fn: () => unknown) => void;

/**
 * A Cleanup for resources made in `before` hooks: `after` called inside a hook
 * belongs to that hook and runs as soon as it ends, so this registers one
 * file-level `after` (call it at module top level) that runs what was added, last
 * first, each even if an earlier one threw.
 */
export function fileCleanup(): Cleanup {
  const fns: Array<() => unknown> = [];
  after(async () => {
    const errors: unknown[] = [];
    for (const fn of fns.reverse()) {
      try {
        await fn();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  });
  return (fn) => {
    fns.push(fn);
  };
}
