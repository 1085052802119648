/**
 * GET /api/metrics/history on a real dashboard server: each GET /api/metrics (the
 * page's poll) scrapes a real /metrics (prom-client text served over HTTP) and adds
 * a point per series; the history is behind the page token, and a bad query
 * parameter is a 400 naming it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { idleRuntime } from './support/idle-runtime.ts';

const vessel = createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });
const metricsServer = createServer((_req, res) => {
  vessel
    .render()
    .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body));
});
let dashboard: Dashboard;
let get: (path: string, token?: string) => Promise<Response>;

before(async () => {
  await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;
  dashboard = await Dashboard.start({
    runtime: {
      ...idleRuntime,
      processes: () => [
        { instance: 'vessel-1', service: 'vessel', kind: 'service', address, status: 'ready' },
      ],
    },
  });
  get = (path, token = dashboard.token) =>
    fetch(`${dashboard.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
});
after(async () => {
  await dashboard.close();
  metricsServer.closeAllConnections();
  await new Promise((resolve) => metricsServer.close(resolve));
});

test('each scrape of /api/metrics adds a point per series to /api/metrics/history', async () => {
  const history = async (query = '') => {
    const response = await get(`/api/metrics/history${query}`);
    assert.equal(response.status, 200);
    return (await response.json()) as {
      maxAgeMs: number;
      series: Array<{ method: string; measuredAt: string; points: Array<Record<string, number>> }>;
    };
  };
  for (let i = 0; i < 3; i++) vessel.observeRpc('Find', 'ok', 0.001);
  await (await get('/api/metrics')).json();
  assert.deepEqual((await history()).series, [], 'one scrape: no window yet');

  for (let i = 0; i < 3; i++) vessel.observeRpc('Find', 'ok', 0.001);
  vessel.observeRpc('Find', 'internal', 0.2);
  await (await get('/api/metrics')).json();
  const answer = await history('?service=vessel&method=Find&at=service');
  assert.equal(answer.maxAgeMs, 15 * 60_000);
  const [series, ...others] = answer.series;
  assert.deepEqual(others, []);
  const [point, ...later] = series!.points;
  assert.deepEqual(later, []);
  assert.equal(point!.errorRate, 0.25);
  assert.equal(point!.p95Ms, 250);
  // The 4 calls of the window, whatever its length.
  assert.ok(Math.abs(point!.requestsPerSecond! * point!.windowSeconds! - 4) < 1e-9, JSON.stringify(point));
  assert.deepEqual((await history('?at=gateway')).series, []);
});

test('the history needs the page token, and a bad parameter is a 400 naming it', async () => {
  assert.equal((await get('/api/metrics/history', dashboard.ingestToken)).status, 401);
  for (const [query, error] of [
    ['?at=client', 'at: expected "gateway" or "service", got "client"'],
    [
      '?services=vessel',
      'services: not a parameter of /api/metrics/history (it takes service, method and at)',
    ],
    ['?method=', 'method: empty; leave it out to match every method'],
  ]) {
    const response = await get(`/api/metrics/history${query}`);
    assert.equal(response.status, 400, query);
    assert.deepEqual(await response.json(), { error }, query);
  }
});
