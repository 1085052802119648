/**
 * The store of exported metrics on its own: delta and cumulative read as the same
 * totals, a histogram's p95 over each point's interval (restarts included), a
 * retried export not counted twice, and its bounds (points per series, series,
 * age), with the series over the cap counted.
 */
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import type { MetricPoint } from '../../src/dashboard/otlp-metric-points.ts';
import { OtlpMetricStore } from '../../src/dashboard/otlp-metric-store.ts';

const nowMs = 1_800_000_000_000;
/** The stores' clock: each test sets it as it goes. */
let clockMs = nowMs;
const now = () => clockMs;
beforeEach(() => {
  clockMs = nowMs;
});

function point(fields: Partial<MetricPoint>): MetricPoint {
  return {
    service: 'orders',
    name: 'orders.placed',
    unit: '',
    description: '',
    kind: 'sum',
    temporality: 'cumulative',
    monotonic: true,
    attributes: {},
    timeMs: nowMs,
    startMs: nowMs - 60_000,
    ...fields,
  };
}

const values = (store: OtlpMetricStore, id = 1) => store.series(id)?.points.map((p) => p.value);

test('a delta Sum is added up into a total; a cumulative one is as sent; a point sent again is not added twice', () => {
  const delta = new OtlpMetricStore({}, now);
  const cumulative = new OtlpMetricStore({}, now);
  for (const [i, [increment, total]] of [
    [3, 3],
    [4, 7],
    [-2, 5],
  ].entries()) {
    const at = nowMs + i * 1000;
    delta.add([point({ temporality: 'delta', monotonic: false, value: increment, timeMs: at })]);
    cumulative.add([point({ value: total, timeMs: at })]);
  }
  // A retried export: the same point (time) again.
  delta.add([point({ temporality: 'delta', value: -2, timeMs: nowMs + 2000 })]);
  assert.deepEqual(values(delta), [3, 7, 5]);
  assert.deepEqual(values(cumulative), [3, 7, 5]);
  assert.equal(delta.list().series[0]?.latest.value, 5);
});

test("a Histogram's count and sum are totals and its p95 is over each point's interval; a restart starts the interval over", () => {
  const store = new OtlpMetricStore({}, now);
  const histogram = (timeMs: number, startMs: number, bucketCounts: number[]) =>
    point({
      kind: 'histogram',
      monotonic: undefined,
      name: 'checkout.duration',
      timeMs,
      startMs,
      bounds: [10, 100],
      bucketCounts,
      count: bucketCounts.reduce((a, b) => a + b, 0),
      sum: 0,
      max: 250,
    });
  const start = nowMs - 60_000;
  store.add([histogram(nowMs, start, [20, 0, 0])]);
  store.add([histogram(nowMs + 1, start, [20, 20, 0])]);
  store.add([histogram(nowMs + 2, start, [20, 20, 20])]);
  // Restarted: a new start time, counts from zero.
  store.add([histogram(nowMs + 3, nowMs + 2, [0, 5, 0])]);
  store.add([histogram(nowMs + 4, nowMs + 2, [0, 5, 0])]);
  assert.deepEqual(
    store.series(1)?.points.map((p) => [p.count, p.p95]),
    [
      [20, 10],
      [40, 100],
      // Past the last bound: the max the SDK sent.
      [60, 250],
      [5, 100],
      // Nothing in the interval: no p95.
      [5, undefined],
    ],
  );
});

test('bounded: the last maxPoints of a series, at most maxSeries (the others counted), nothing older than maxAgeMs', () => {
  const store = new OtlpMetricStore({ maxPoints: 3, maxSeries: 2, maxAgeMs: 60_000 }, now);
  for (let i = 0; i < 5; i += 1) store.add([point({ value: i, timeMs: nowMs + i })]);
  assert.deepEqual(values(store), [2, 3, 4]);

  store.add([point({ name: 'b', value: 1 }), point({ name: 'c', value: 1 }), point({ name: 'd', value: 1 })]);
  store.add([point({ name: 'c', value: 2, timeMs: nowMs + 6 })]);
  const listed = store.list();
  assert.deepEqual(
    listed.series.map((s) => s.name),
    ['b', 'orders.placed'],
  );
  assert.equal(listed.seriesOverCap, 2);

  // A minute on with nothing sent: nothing is left, and the series over the cap are forgotten.
  clockMs = nowMs + 60_000 + 10;
  assert.deepEqual(store.list().series, []);
  assert.equal(store.list().seriesOverCap, 0);
  assert.equal(store.series(1), undefined);
  store.add([point({ name: 'c', value: 3, timeMs: clockMs })]);
  assert.deepEqual(
    store.list().series.map((s) => [s.name, s.latest.value]),
    [['c', 3]],
  );
});
