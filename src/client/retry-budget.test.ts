import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryBudget } from './retry-budget.ts';

function clock() {
  let now = 5_000_000;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

function retriesAllowed(budget: RetryBudget): number {
  let count = 0;
  while (budget.tryRetry()) count++;
  return count;
}

test('a fresh budget allows the per-second floor, then nothing until time passes', () => {
  const time = clock();
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 10, now: time.now });
  assert.equal(retriesAllowed(budget), 10);
  assert.equal(budget.tryRetry(), false);
  time.advance(100);
  assert.equal(retriesAllowed(budget), 1, '10 per second refills 1 in 100 ms');
});

test('requests earn retries at the ratio', () => {
  const time = clock();
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0, now: time.now });
  for (let i = 0; i < 100; i++) budget.recordRequest();
  // 100 × 0.2 = 20, up to float rounding of the sum.
  const allowed = retriesAllowed(budget);
  assert.ok(allowed === 19 || allowed === 20, `allowed ${allowed}`);
  assert.equal(budget.tryRetry(), false);
});

test('the budget is capped, so a long quiet spell does not bank a retry storm', () => {
  const time = clock();
  const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 10, now: time.now });
  time.advance(3_600_000);
  for (let i = 0; i < 10_000; i++) budget.recordRequest();
  assert.equal(retriesAllowed(budget), 100);
});

test('with load, retries stay a fraction of requests however many fail', () => {
  const time = clock();
  const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 1, now: time.now });
  retriesAllowed(budget);
  let retries = 0;
  // 10 s of 1000 failing requests per second, each wanting a retry.
  for (let ms = 0; ms < 10_000; ms++) {
    time.advance(1);
    budget.recordRequest();
    if (budget.tryRetry()) retries++;
  }
  // 10 000 × 0.1 + 10 s × 1/s, give or take one token of rounding.
  assert.ok(retries >= 1_009 && retries <= 1_010, `retries ${retries}`);
});
