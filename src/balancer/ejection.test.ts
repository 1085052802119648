import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeInstances } from '../../test/support/instances.ts';
import { Ejector } from './ejection.ts';

const refused = { reached: false, connectFailure: true };
const answered = { reached: true, connectFailure: false };

function clock() {
  let now = 1_000_000;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

test('an instance is ejected after consecutive connect failures and returns after the period', () => {
  const time = clock();
  const ejector = new Ejector({ consecutiveFailures: 3, baseEjectionMs: 5_000, now: time.now });
  const [bad, good] = fakeInstances(2);
  ejector.report(bad, refused);
  ejector.report(bad, refused);
  assert.deepEqual(ejector.filter([bad, good]), [bad, good], 'two failures are not enough');
  ejector.report(bad, refused);
  assert.equal(ejector.isEjected(bad), true);
  assert.deepEqual(ejector.filter([bad, good]), [good]);

  time.advance(4_999);
  assert.deepEqual(ejector.filter([bad, good]), [good], 'still ejected just before the period ends');
  time.advance(1);
  assert.equal(ejector.isEjected(bad), false);
  assert.deepEqual(ejector.filter([bad, good]), [bad, good]);
});

test('a success in between resets the count of consecutive failures', () => {
  const time = clock();
  const ejector = new Ejector({ consecutiveFailures: 3, now: time.now });
  const [instance] = fakeInstances(1);
  ejector.report(instance, refused);
  ejector.report(instance, refused);
  ejector.report(instance, answered);
  ejector.report(instance, refused);
  ejector.report(instance, refused);
  assert.equal(ejector.isEjected(instance), false);
});

test('a repeat offender is ejected for twice as long each time, up to the maximum', () => {
  const time = clock();
  const ejector = new Ejector({
    consecutiveFailures: 1,
    baseEjectionMs: 1_000,
    maxEjectionMs: 3_000,
    now: time.now,
  });
  const [instance] = fakeInstances(1);
  for (const expected of [1_000, 2_000, 3_000, 3_000]) {
    ejector.report(instance, refused);
    time.advance(expected - 1);
    assert.equal(ejector.isEjected(instance), true, `ejected for ${expected} ms`);
    time.advance(1);
    assert.equal(ejector.isEjected(instance), false, `back after ${expected} ms`);
  }
});

test('an instance that answers after its ejection is forgiven: the next ejection is short again', () => {
  const time = clock();
  const ejector = new Ejector({ consecutiveFailures: 1, baseEjectionMs: 1_000, now: time.now });
  const [instance] = fakeInstances(1);
  ejector.report(instance, refused);
  time.advance(1_000);
  ejector.report(instance, answered);
  ejector.report(instance, refused);
  time.advance(999);
  assert.equal(ejector.isEjected(instance), true);
  time.advance(1);
  assert.equal(ejector.isEjected(instance), false);
});

test('when every instance is ejected, all are offered again', () => {
  const time = clock();
  const ejector = new Ejector({ consecutiveFailures: 1, now: time.now });
  const two = fakeInstances(2);
  for (const instance of two) ejector.report(instance, refused);
  assert.deepEqual(ejector.filter(two), two);
});

test('with nothing ejected, filter returns the same array (no allocation on the hot path)', () => {
  const ejector = new Ejector();
  const two = fakeInstances(2);
  assert.equal(ejector.filter(two), two);
});
