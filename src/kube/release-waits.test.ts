import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntilFirstFailure } from './release-waits.ts';

/** A wait that ends only when told to stop, saying so as a rollout wait does. */
const untilStopped = (signal: AbortSignal) =>
  new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('interrupted')));

test('the first failure stops the other waits at once; their stop is no failure of their own', async () => {
  const stopped: string[] = [];
  const failures = await waitUntilFirstFailure(
    ['email', 'vessel', 'user'],
    async (name, signal) => {
      if (name === 'vessel') return 'crash loop: pod vessel-1: CrashLoopBackOff';
      const detail = await untilStopped(signal);
      stopped.push(name);
      return detail;
    },
    undefined,
  );
  assert.deepEqual([...failures], [['vessel', 'crash loop: pod vessel-1: CrashLoopBackOff']]);
  assert.deepEqual(stopped.sort(), ['email', 'user']);
});

test('waits that all succeed report no failure; a caller’s abort reaches every wait and fails the release once', async () => {
  assert.equal((await waitUntilFirstFailure(['a', 'b'], async () => undefined, undefined)).size, 0);
  const caller = new AbortController();
  const failing = waitUntilFirstFailure(['a', 'b'], (_name, signal) => untilStopped(signal), caller.signal);
  caller.abort();
  assert.deepEqual([...(await failing).values()], ['interrupted']);
});
