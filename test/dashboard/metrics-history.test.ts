/**
 * The Metrics page's history (src/dashboard/metrics-history.ts): one point per
 * scrape window per series, from the rows metrics-view.ts computes out of real
 * Prometheus text (prom-client, as the services render it), bounded in age,
 * points and series, oldest first, and a restart that makes no negative rate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { historyQueryOf, MetricsHistory } from '../../src/dashboard/metrics-history.ts';
import {
  type MeasuredAt,
  type MethodMetrics,
  methodMetrics,
  parseRpcMetrics,
  type Scrape,
} from '../../src/dashboard/metrics-view.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';

const scrape = async (metrics: Metrics, atMs: number): Promise<Scrape> => ({
  atMs,
  samples: parseRpcMetrics((await metrics.render()).body),
});
const times = (n: number, observe: () => void) => {
  for (let i = 0; i < n; i++) observe();
};
/** A row as the view makes it, with a window of 5 s. */
const row = (method: string, requestsPerSecond = 1, measuredAt: MeasuredAt = 'service'): MethodMetrics => ({
  service: 'vessel',
  method,
  measuredAt,
  requests: 100,
  windowSeconds: 5,
  requestsPerSecond,
  errorRate: 0,
  meanMs: 1,
  p95Ms: 1,
});
const pointTimes = (history: MetricsHistory, method: string) =>
  history.query({ method }).series[0]?.points.map((p) => p.atMs);

test('a point per scrape window, from the rows of metrics-view; an instance scraped once has none yet', async () => {
  const vessel = createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });
  const history = new MetricsHistory();
  let previous: Scrape | undefined;
  // Three windows of 4 s: 8 calls and 2 failures at 200 ms, then 20 calls, then none.
  const windows = [
    () => {},
    () => {
      times(8, () => vessel.observeRpc('Find', 'ok', 0.0004));
      times(2, () => vessel.observeRpc('Find', 'internal', 0.2));
    },
    () => times(20, () => vessel.observeRpc('Find', 'ok', 0.0004)),
    () => {},
  ];
  for (const [i, calls] of windows.entries()) {
    calls();
    const current = await scrape(vessel, 1_000 + i * 4_000);
    history.record(current.atMs, methodMetrics([{ measuredAt: 'service', previous, current }]));
    previous = current;
  }
  const { series } = history.query();
  assert.equal(series.length, 1);
  assert.deepEqual(
    series[0]!.points.map((p) => [p.atMs, p.windowSeconds, p.requestsPerSecond, p.errorRate, p.p95Ms]),
    [
      [5_000, 4, 2.5, 0.2, 250],
      [9_000, 4, 5, 0, 0.5],
      // No call: a rate of 0 and nothing to take an error rate or a latency of.
      [13_000, 4, 0, undefined, undefined],
    ],
  );
});

test('a restarted instance (its counters back near zero) makes no negative rate and no spike', async () => {
  const before = createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });
  times(1_000, () => before.observeRpc('Find', 'ok', 0.001));
  const first = await scrape(before, 0);
  times(10, () => before.observeRpc('Find', 'ok', 0.001));
  const second = await scrape(before, 5_000);
  // The same instance, restarted: its new process counted 10 calls since.
  const after = createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });
  times(10, () => after.observeRpc('Find', 'ok', 0.001));
  const third = await scrape(after, 10_000);
  times(10, () => after.observeRpc('Find', 'ok', 0.001));
  const fourth = await scrape(after, 15_000);

  const history = new MetricsHistory();
  for (const [previous, current] of [
    [first, second],
    [second, third],
    [third, fourth],
  ] as const) {
    history.record(current.atMs, methodMetrics([{ measuredAt: 'service', previous, current }]));
  }
  const points = history.query().series[0]!.points;
  // 10 calls in each 5 s window, the restart's included: 2/s each time.
  assert.deepEqual(
    points.map((p) => p.requestsPerSecond),
    [2, 2, 2],
  );
});

test('points older than maxAgeMs go, each series keeps its last maxPoints, oldest first', () => {
  const history = new MetricsHistory({ maxAgeMs: 60_000, maxPoints: 3 });
  for (const atMs of [0, 10_000, 20_000, 30_000]) history.record(atMs, [row('Find')]);
  assert.deepEqual(pointTimes(history, 'Find'), [10_000, 20_000, 30_000], 'the last 3 points');

  // Two pages polling at once: a scrape that ended earlier is recorded after one that ended later.
  history.record(50_000, [row('Find')]);
  history.record(40_000, [row('Find')]);
  assert.deepEqual(pointTimes(history, 'Find'), [30_000, 40_000, 50_000]);

  // List is measured from 60 s on; Find no more. At 111 s, Find's points are all over a minute old.
  history.record(60_000, [row('List')]);
  history.record(111_000, [row('List')]);
  assert.deepEqual(pointTimes(history, 'Find'), undefined, 'a series with no point left goes');
  assert.deepEqual(pointTimes(history, 'List'), [60_000, 111_000]);
  history.record(172_000, [row('List')]);
  assert.deepEqual(pointTimes(history, 'List'), [172_000]);
});

test('at most maxSeries: a new series replaces the one measured longest ago, or is not kept when all are current', () => {
  const history = new MetricsHistory({ maxSeries: 2 });
  history.record(1_000, [row('A'), row('B')]);
  history.record(2_000, [row('B')]);
  // C replaces A (last measured at 1 s); B, measured at 2 s, stays.
  history.record(3_000, [row('B'), row('C')]);
  const kept = () => history.query().series.map((s) => s.method);
  assert.deepEqual(kept(), ['B', 'C']);
  assert.equal(history.query().seriesOverCap, 0);

  // A flood of new methods in one scrape: the kept series were all measured in it, so the newcomers are not kept.
  history.record(4_000, [row('B'), row('C'), row('D'), row('E')]);
  assert.deepEqual(kept(), ['B', 'C']);
  assert.equal(history.query().seriesOverCap, 2);
  assert.deepEqual(pointTimes(history, 'B'), [1_000, 2_000, 3_000, 4_000]);
});

test('query filters by service, method and where it was measured', () => {
  const history = new MetricsHistory();
  history.record(1_000, [row('Find', 1, 'gateway'), row('Find', 2), row('List', 3)]);
  const rates = (query: Parameters<MetricsHistory['query']>[0]) =>
    history
      .query(query)
      .series.map((s) => `${s.measuredAt} ${s.method} ${s.points.map((p) => p.requestsPerSecond).join()}`);
  assert.deepEqual(rates({}), ['gateway Find 1', 'service Find 2', 'service List 3']);
  assert.deepEqual(rates({ service: 'vessel', method: 'Find', measuredAt: 'service' }), ['service Find 2']);
  assert.deepEqual(rates({ service: 'user' }), []);
  assert.deepEqual(history.query().maxSeries, 200);
});

test('historyQueryOf: each parameter optional, a bad one a 400 naming it', () => {
  const of = (query: string) => historyQueryOf(new URLSearchParams(query));
  assert.deepEqual(of(''), { service: undefined, method: undefined, measuredAt: undefined });
  assert.deepEqual(of('service=vessel&method=Find&at=gateway'), {
    service: 'vessel',
    method: 'Find',
    measuredAt: 'gateway',
  });
  for (const [query, message] of [
    ['at=client', /^at: expected "gateway" or "service", got "client"$/],
    [
      'servce=vessel',
      /^servce: not a parameter of \/api\/metrics\/history \(it takes service, method and at\)$/,
    ],
    ['service=', /^service: empty; leave it out to match every service$/],
    ['method=A&method=B', /^method: given 2 times, expected once$/],
  ] as const) {
    assert.throws(() => of(query), { status: 400, message }, query);
  }
});
