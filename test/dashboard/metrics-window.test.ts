/**
 * The Metrics page's numbers (src/dashboard/metrics-view.ts) over a window: from the
 * difference of two real Prometheus texts, rendered by prom-client from the same
 * metrics the services and the gateway record (src/metrics/metrics.ts).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  MetricsView,
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

test('requests/s, error rate, mean and p95 are those of the calls between the last two scrapes, not since start', async () => {
  const vessel = createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });
  // Before the window: ten slow calls, which a since-start p95 would report.
  times(10, () => vessel.observeRpc('FindAvailable', 'ok', 2));
  const before = await scrape(vessel, 1_000);
  // In the window (4 s): 18 fast calls and 2 failures at 200 ms.
  times(18, () => vessel.observeRpc('FindAvailable', 'ok', 0.0004));
  times(2, () => vessel.observeRpc('FindAvailable', 'unavailable', 0.2));
  const after = await scrape(vessel, 5_000);

  const [row, ...rest] = methodMetrics([{ measuredAt: 'service', previous: before, current: after }]);
  assert.deepEqual(rest, []);
  assert.equal(row!.service, 'vessel');
  assert.equal(row!.method, 'FindAvailable');
  assert.equal(row!.requests, 30, 'the total is since start');
  assert.equal(row!.windowSeconds, 4);
  assert.equal(row!.requestsPerSecond, 5);
  assert.equal(row!.errorRate, 0.1);
  assert.ok(Math.abs(row!.meanMs! - (18 * 0.4 + 2 * 200) / 20) < 1e-9, `mean ${row!.meanMs}`);
  // 19 of 20 calls: the 95th is the first of the two at 200 ms, in the bucket up to 250 ms.
  assert.equal(row!.p95Ms, 250);

  // No call in the next window: a rate of 0, and nothing to take a rate or latency of.
  const idle = await scrape(vessel, 9_000);
  const [quiet] = methodMetrics([{ measuredAt: 'service', previous: after, current: idle }]);
  assert.equal(quiet!.requestsPerSecond, 0);
  assert.equal(quiet!.errorRate, undefined);
  assert.equal(quiet!.meanMs, undefined);
  assert.equal(quiet!.p95Ms, undefined);
});

test('instances are summed, a restarted one counts from zero, and the gateway’s rows are its own', async () => {
  const one = createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });
  const two = createMetrics({ service: 'vessel', instance: 'vessel-2', defaultMetrics: false });
  const gateway = createMetrics({ service: 'gateway', instance: 'gateway', defaultMetrics: false });
  times(100, () => one.observeRpc('FindAvailable', 'ok', 0.001));
  times(4, () => gateway.observeRpc('FindAvailable', 'ok', 0.002, 'vessel'));
  const oneBefore = await scrape(one, 0);
  const gatewayBefore = await scrape(gateway, 0);
  times(100, () => two.observeRpc('FindAvailable', 'ok', 0.001));
  const twoBefore = await scrape(two, 0);
  times(6, () => one.observeRpc('FindAvailable', 'ok', 0.001));
  // vessel-2 was restarted in the window: its new process counted 4 calls, fewer than the old one's 100.
  const twoRestarted = createMetrics({ service: 'vessel', instance: 'vessel-2', defaultMetrics: false });
  times(4, () => twoRestarted.observeRpc('FindAvailable', 'not_found', 0.001));
  times(8, () => gateway.observeRpc('FindAvailable', 'ok', 0.002, 'vessel'));

  const rows = methodMetrics([
    { measuredAt: 'service', previous: oneBefore, current: await scrape(one, 2_000) },
    { measuredAt: 'service', previous: twoBefore, current: await scrape(twoRestarted, 2_000) },
    { measuredAt: 'gateway', previous: gatewayBefore, current: await scrape(gateway, 2_000) },
  ]);
  assert.deepEqual(
    rows.map((r) => [r.measuredAt, r.service, r.method, r.requests, r.requestsPerSecond, r.errorRate]),
    [
      ['gateway', 'vessel', 'FindAvailable', 12, 4, 0],
      ['service', 'vessel', 'FindAvailable', 110, 5, 0.4],
    ],
  );

  // An instance scraped once has no window yet: its total only.
  const [first] = methodMetrics([{ measuredAt: 'service', previous: undefined, current: oneBefore }]);
  assert.equal(first!.requests, 100);
  assert.equal(first!.windowSeconds, undefined);
  assert.equal(first!.requestsPerSecond, undefined);
});

test('MetricsView scrapes each target’s /metrics over HTTP and keeps its last scrape for the next window', async () => {
  const vessel = createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });
  const server = createServer((_req, res) => {
    vessel
      .render()
      .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body));
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const view = new MetricsView();
  const targets = [
    { instance: 'vessel-1', address, measuredAt: 'service' as const },
    // Refused: no rows, and no error for the page.
    { instance: 'vessel-2', address: '127.0.0.1:1', measuredAt: 'service' as const },
  ];
  try {
    times(3, () => vessel.observeRpc('Find', 'ok', 0.001));
    const [first] = await view.scrape(targets);
    assert.equal(first!.requests, 3);
    assert.equal(first!.requestsPerSecond, undefined);
    times(5, () => vessel.observeRpc('Find', 'internal', 0.001));
    const [second, ...rest] = await view.scrape(targets);
    assert.deepEqual(rest, []);
    assert.equal(second!.requests, 8);
    assert.equal(second!.errorRate, 1, 'only the 5 calls since the first scrape, all failed');
    assert.ok(second!.requestsPerSecond! > 0);
    assert.equal(second!.p95Ms, 1);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
