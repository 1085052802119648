/**
 * GET /api/metrics and /api/metrics/history on a real dashboard server that
 * scrapes on its own timer: its instances are in-test HTTP servers whose /metrics
 * is prom-client text (as the services render it) moving on by a known schedule
 * at each scrape. The history fills with no page open and no GET /api/metrics;
 * GET /api/metrics answers the latest scrape and never scrapes; an instance down
 * or slow, or a scrape that fails, never stops the loop, and scrapes never overlap;
 * close() stops it. The
 * history is behind the page token, and a bad query parameter is a 400 naming it.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { Dashboard, type DashboardProcess } from '../../src/dashboard/dashboard-server.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';
import { waitFor } from '../support/wait.ts';
import { idleRuntime } from './support/idle-runtime.ts';

interface FakeInstance {
  readonly address: string;
  /** The scrapes it received. */
  readonly scrapes: () => number;
  /** The most scrapes it had under way at once. */
  readonly mostAtOnce: () => number;
}

/**
 * An instance's /metrics: before answering its n-th scrape it calls `callsOfScrape(n)`;
 * `answer(n)` false holds that scrape unanswered (a hung instance) until the client gives up.
 */
async function fakeInstance(
  t: TestContext,
  metrics: Metrics,
  callsOfScrape: (n: number) => void = () => {},
  answer: (n: number) => boolean = () => true,
): Promise<FakeInstance> {
  let scrapes = 0;
  let atOnce = 0;
  let mostAtOnce = 0;
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    const n = scrapes++;
    atOnce += 1;
    mostAtOnce = Math.max(mostAtOnce, atOnce);
    res.once('close', () => {
      atOnce -= 1;
    });
    if (!answer(n)) return void held.push(res);
    callsOfScrape(n);
    metrics
      .render()
      .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    scrapes: () => scrapes,
    mostAtOnce: () => mostAtOnce,
  };
}

const vesselMetrics = () => createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });
const serviceAt = (instance: string, address: string): DashboardProcess => ({
  instance,
  service: instance.replace(/-\d+$/, ''),
  kind: 'service',
  address,
  status: 'ready',
});

async function startDashboard(
  t: TestContext,
  processes: DashboardProcess[],
  metricsScrapeIntervalMs: number,
): Promise<Dashboard> {
  const dashboard = await Dashboard.start({
    runtime: { ...idleRuntime, processes: () => processes },
    metricsScrapeIntervalMs,
  });
  t.after(() => dashboard.close());
  return dashboard;
}

async function get(dashboard: Dashboard, path: string, token = dashboard.token): Promise<Response> {
  return fetch(`${dashboard.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

interface HistoryAnswer {
  maxAgeMs: number;
  series: Array<{
    service: string;
    method: string;
    measuredAt: string;
    points: Array<Record<string, number>>;
  }>;
}
async function history(dashboard: Dashboard, query = ''): Promise<HistoryAnswer> {
  const response = await get(dashboard, `/api/metrics/history${query}`);
  assert.equal(response.status, 200);
  return (await response.json()) as HistoryAnswer;
}

interface MetricsAnswer {
  scrapedAtMs?: number;
  scrapeError?: string;
  scrapeIntervalMs: number;
  methods: Array<{ service: string; method: string; requests: number; windowSeconds?: number }>;
}
async function latest(dashboard: Dashboard): Promise<MetricsAnswer> {
  const response = await get(dashboard, '/api/metrics');
  assert.equal(response.status, 200);
  return (await response.json()) as MetricsAnswer;
}

/** The points of `service Find (at service)` once there are at least `n`. */
const pointsOf = (dashboard: Dashboard, service: string, n: number) =>
  waitFor(
    async () => {
      const [series] = (await history(dashboard, `?service=${service}&method=Find&at=service`)).series;
      return series && series.points.length >= n && series.points;
    },
    { timeoutMs: 20_000, what: `${n} points of ${service} Find` },
  );

/** Window n (the calls the n-th scrape finds, n ≥ 1): 1 to 4 calls that succeed, and one that fails in even ones. */
const okCalls = (n: number) => 1 + (n % 4);
const failed = (n: number) => n % 2 === 0;

test('the history fills from the dashboard’s own scrapes: no page, no GET /api/metrics', async (t) => {
  const vessel = vesselMetrics();
  const instance = await fakeInstance(t, vessel, (n) => {
    if (n === 0) return;
    for (let i = 0; i < okCalls(n); i++) vessel.observeRpc('Find', 'ok', 0.001);
    if (failed(n)) vessel.observeRpc('Find', 'internal', 0.2);
  });
  const dashboard = await startDashboard(t, [serviceAt('vessel-1', instance.address)], 20);

  const points = await pointsOf(dashboard, 'vessel', 6);
  // Point i is window i + 1: what the schedule put between two scrapes, whatever their spacing.
  points.forEach((point, i) => {
    const n = i + 1;
    const calls = okCalls(n) + (failed(n) ? 1 : 0);
    const shown = JSON.stringify({ n, point });
    assert.ok(Math.abs(point.requestsPerSecond! * point.windowSeconds! - calls) < 1e-9, shown);
    assert.equal(point.errorRate, failed(n) ? 1 / calls : 0, shown);
    assert.equal(point.p95Ms, failed(n) ? 250 : 1, shown);
  });
  const answer = await history(dashboard);
  assert.equal(answer.maxAgeMs, 15 * 60_000);
  assert.deepEqual(
    answer.series.map((s) => [s.service, s.method, s.measuredAt]),
    [['vessel', 'Find', 'service']],
  );

  const { scrapedAtMs, scrapeIntervalMs, methods } = await latest(dashboard);
  assert.equal(scrapeIntervalMs, 20);
  assert.ok(scrapedAtMs !== undefined && scrapedAtMs <= Date.now(), `scrapedAtMs ${scrapedAtMs}`);
  assert.equal(methods[0]?.method, 'Find');
  assert.ok(methods[0]!.windowSeconds! > 0);
});

test('GET /api/metrics answers the latest scrape, when it was taken, and scrapes nothing itself', async (t) => {
  const vessel = vesselMetrics();
  for (let i = 0; i < 3; i++) vessel.observeRpc('Find', 'ok', 0.001);
  const instance = await fakeInstance(t, vessel);
  // An hour between scrapes: the one at start is all this test sees.
  const dashboard = await startDashboard(t, [serviceAt('vessel-1', instance.address)], 3_600_000);
  const first = await waitFor(
    async () => {
      const answer = await latest(dashboard);
      return answer.scrapedAtMs !== undefined && answer;
    },
    { what: 'the first scrape' },
  );
  assert.equal(first.methods[0]?.requests, 3);
  assert.equal(first.methods[0]?.windowSeconds, undefined, 'one scrape: no window yet');
  assert.deepEqual((await history(dashboard)).series, [], 'one scrape: no point yet');
  for (let i = 0; i < 3; i++) assert.deepEqual(await latest(dashboard), first);
  assert.equal(instance.scrapes(), 1, 'the page’s requests read the latest scrape');
});

test('an instance down or slow to answer neither stops the scrapes nor makes them overlap', async (t) => {
  const vessel = vesselMetrics();
  const instance = await fakeInstance(t, vessel, () => vessel.observeRpc('Find', 'ok', 0.001));
  const cargo = createMetrics({ service: 'cargo', instance: 'cargo-1', defaultMetrics: false });
  // cargo-1 hangs at the first scrape (the dashboard gives up after 2 s), then answers.
  const slow = await fakeInstance(
    t,
    cargo,
    () => cargo.observeRpc('Find', 'ok', 0.001),
    (n) => n > 0,
  );
  const dashboard = await startDashboard(
    t,
    [
      serviceAt('vessel-1', instance.address),
      serviceAt('cargo-1', slow.address),
      serviceAt('port-1', '127.0.0.1:1'),
    ],
    20,
  );
  await pointsOf(dashboard, 'cargo', 2);
  await pointsOf(dashboard, 'vessel', 3);
  // A hundred ticks passed while cargo-1 hung: each skipped, not a scrape more.
  assert.equal(slow.mostAtOnce(), 1);
  assert.equal(instance.mostAtOnce(), 1);
});

test('a scrape that fails is said in the answer, and the next tick scrapes again', async (t) => {
  const vessel = vesselMetrics();
  const instance = await fakeInstance(t, vessel, () => vessel.observeRpc('Find', 'ok', 0.001));
  let asked = 0;
  const dashboard = await Dashboard.start({
    runtime: {
      ...idleRuntime,
      processes: () => {
        asked += 1;
        if (asked <= 3) throw new Error('the runner is busy');
        return [serviceAt('vessel-1', instance.address)];
      },
    },
    metricsScrapeIntervalMs: 20,
  });
  t.after(() => dashboard.close());
  const failed = await waitFor(async () => {
    const answer = await latest(dashboard);
    return answer.scrapeError !== undefined && answer;
  });
  assert.deepEqual(failed, { scrapeIntervalMs: 20, methods: [], scrapeError: 'the runner is busy' });
  await pointsOf(dashboard, 'vessel', 2);
  assert.equal((await latest(dashboard)).scrapeError, undefined);
});

test('close() stops the scrapes', async (t) => {
  const closing = await fakeInstance(t, vesselMetrics());
  const running = await fakeInstance(t, vesselMetrics());
  const closed = await startDashboard(t, [serviceAt('vessel-1', closing.address)], 20);
  // The reference clock: it scrapes `running` at the same interval and stays open.
  await startDashboard(t, [serviceAt('vessel-1', running.address)], 20);
  await waitFor(() => closing.scrapes() >= 3, { what: '3 scrapes before close' });
  await closed.close();
  // A scrape cancelled by close() may have sent its request already: one tick of the
  // other dashboard lets it arrive before counting, so only scrapes begun later count.
  const settled = running.scrapes() + 1;
  await waitFor(() => running.scrapes() >= settled, { what: 'one scrape of the other dashboard' });
  const atClose = closing.scrapes();
  // Five ticks of a dashboard with the same interval: the closed one would have scraped meanwhile.
  const later = running.scrapes() + 5;
  await waitFor(() => running.scrapes() >= later, { what: 'five scrapes of the other dashboard' });
  assert.equal(closing.scrapes(), atClose);
});

test('the history needs the page token, and a bad parameter is a 400 naming it', async (t) => {
  const dashboard = await startDashboard(t, [], 20);
  assert.equal((await get(dashboard, '/api/metrics/history', dashboard.ingestToken)).status, 401);
  for (const [query, error] of [
    ['?at=client', 'at: expected "gateway" or "service", got "client"'],
    [
      '?services=vessel',
      'services: not a parameter of /api/metrics/history (it takes service, method and at)',
    ],
    ['?method=', 'method: empty; leave it out to match every method'],
  ]) {
    const response = await get(dashboard, `/api/metrics/history${query}`);
    assert.equal(response.status, 400, query);
    assert.deepEqual(await response.json(), { error }, query);
  }
});

test('a scrape interval that is not a positive number is refused, naming the option', async (t) => {
  const started = Dashboard.start({ runtime: idleRuntime, metricsScrapeIntervalMs: 0 });
  // Should it start after all, it must not keep the test process alive.
  t.after(async () => (await started.catch(() => undefined))?.close());
  await assert.rejects(started, {
    message: 'metricsScrapeIntervalMs: expected a positive number of milliseconds, got 0',
  });
});
