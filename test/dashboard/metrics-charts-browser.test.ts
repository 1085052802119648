/**
 * The Metrics page's charts in a real browser (Debian's Chromium, playwright-core)
 * against a real dashboard server whose one instance is an in-test HTTP server:
 * its /metrics is prom-client text, as the services render it, that moves on at
 * each scrape by a known schedule (and restarts from zero once). The dashboard
 * scrapes on its own timer (every second here), so the charts must show at once
 * the windows measured before the page was opened, a point per window, and say in
 * their text alternative what the schedule makes (latest, max), at 1280 and 360 px;
 * and the page's polling must neither take the focus nor lose the series chosen.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { launchChromium, openDashboard, photograph } from './support/browser.ts';
import { idleRuntime } from './support/idle-runtime.ts';

// Named as berth's services name them: long enough to test the page at 360 px.
const find = 'VesselService.FindAvailable';
const list = 'VesselService.List';
/** Find's failures in each window of 10 calls (a failure takes 200 ms, the rest 0.4 ms), over and over. */
const findErrors = [1, 5, 2, 0];
/** The window whose scrape finds vessel-1 restarted: counters back at zero, then that window's calls. */
const restartAt = 3;
const newMetrics = () => createMetrics({ service: 'vessel', instance: 'vessel-1', defaultMetrics: false });

const cleanup = fileCleanup();
const pageErrors: Error[] = [];
let dashboard: Dashboard;
let page: Page;
let vessel: Metrics = newMetrics();
let scrapes = 0;

/** The calls of window `n` (the n-th scrape after the first): 10 to FindAvailable, 4 to List. */
function callsOfWindow(n: number): void {
  if (n === restartAt) vessel = newMetrics();
  const errors = findErrors[(n - 1) % findErrors.length]!;
  for (let i = 0; i < 10; i++)
    vessel.observeRpc(find, i < errors ? 'internal' : 'ok', i < errors ? 0.2 : 0.0004);
  for (let i = 0; i < 4; i++) vessel.observeRpc(list, 'ok', 0.002);
}

before(async () => {
  const instance = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(200).end('{"ready":true}');
    // Each scrape finds the calls of one more window, whoever looks.
    if (scrapes > 0) callsOfWindow(scrapes);
    scrapes += 1;
    vessel
      .render()
      .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body));
  });
  await new Promise<void>((resolve) => instance.listen(0, '127.0.0.1', resolve));
  cleanup(() => new Promise((resolve) => instance.close(resolve)));
  cleanup(() => instance.closeAllConnections());
  const address = `127.0.0.1:${(instance.address() as AddressInfo).port}`;
  dashboard = await Dashboard.start({
    runtime: {
      ...idleRuntime,
      processes: () => [
        { instance: 'vessel-1', service: 'vessel', kind: 'service', address, status: 'ready' },
      ],
    },
    // A second, not 5: the windows of the tests come five times sooner.
    metricsScrapeIntervalMs: 1000,
  });
  cleanup(() => dashboard.close());
  page = await openDashboard(await launchChromium(cleanup), dashboard.pageUrl, pageErrors);
});

afterEach(() => {
  assert.deepEqual(pageErrors.splice(0), [], 'errors thrown in the page');
});

interface ChartState {
  readonly title: string;
  readonly label: string;
  readonly points: number;
  readonly width: number;
}

/** Each chart as a person sees it (its width, its dots) and as a screen reader reads it (its aria-label). */
const charts = (): Promise<ChartState[]> =>
  page.locator('.chart').evaluateAll((elements) =>
    elements.map((chart) => ({
      title: chart.querySelector('h3')!.textContent!,
      label: chart.querySelector('[role="img"]')!.getAttribute('aria-label')!,
      points: chart.querySelectorAll('.chart-point').length,
      width: chart.querySelector('svg')!.getBoundingClientRect().width,
    })),
  );

/** The charts once they show at least `windows` windows. */
const chartsWith = (windows: number): Promise<ChartState[]> =>
  waitFor(
    async () => {
      const shown = await charts();
      return shown.length === 3 && shown[0]!.points >= windows && shown;
    },
    { timeoutMs: 90_000, intervalMs: 200, what: `charts of ${windows} windows` },
  );

interface HistoryPoint {
  readonly requestsPerSecond: number;
  readonly windowSeconds: number;
}
async function historyOf(method: string): Promise<HistoryPoint[]> {
  const response = await fetch(
    `${dashboard.url}/api/metrics/history?service=vessel&method=${method}&at=service`,
    {
      headers: { authorization: `Bearer ${dashboard.token}` },
    },
  );
  return ((await response.json()) as { series: Array<{ points: HistoryPoint[] }> }).series[0]!.points;
}

/** What the schedule makes of Find's first `n` windows, as the charts' labels word it. */
function expectedFind(n: number): { errors: string; p95: string } {
  const rates = Array.from({ length: n }, (_, i) => findErrors[i % findErrors.length]! * 10);
  const p95 = (errors: number) => (errors > 0 ? '≤ 250.0 ms' : '≤ 0.50 ms');
  return {
    errors: `latest ${rates.at(-1)!.toFixed(1)} %, max ${Math.max(...rates).toFixed(1)} %; ${n} windows`,
    p95: `latest ${p95(rates.at(-1)!)}, max ${p95(Math.max(...rates))}; ${n} windows`,
  };
}

/** The charts, the label of each checked against the schedule and the API's points, at the page's width now. */
async function checkFindCharts(windows: number): Promise<void> {
  const [requests, errors, p95] = await chartsWith(windows);
  const n = requests!.points;
  assert.deepEqual([requests!.title, errors!.title, p95!.title], ['Requests/s', 'Error rate', 'p95 latency']);
  for (const chart of [errors!, p95!]) assert.equal(chart.points, n, `${chart.title}: a dot per window`);
  const expected = expectedFind(n);
  assert.match(errors!.label, /^Error rate of vessel VesselService\.FindAvailable \(at service\): /);
  assert.ok(errors!.label.includes(expected.errors), `${errors!.label}\nexpected: ${expected.errors}`);
  assert.ok(p95!.label.includes(expected.p95), `${p95!.label}\nexpected: ${expected.p95}`);
  // The rate is 10 calls over each window's own length; its latest is the label's.
  const points = await historyOf(find);
  if (points.length === n) {
    const latest = points.at(-1)!.requestsPerSecond.toFixed(2);
    assert.ok(requests!.label.includes(`latest ${latest} req/s`), `${requests!.label}\nexpected ${latest}`);
  }
  const width = page.viewportSize()!.width;
  for (const chart of [requests!, errors!, p95!]) {
    assert.ok(
      chart.width > 100 && chart.width < width,
      `${chart.title}: ${chart.width} px wide at ${width} px`,
    );
  }
  assert.ok(
    (await page.evaluate(() => document.documentElement.scrollWidth)) <= width,
    `nothing wider than the ${width} px screen`,
  );
}

describe('the Metrics page’s charts', () => {
  test('the windows measured before the page was opened are charted at once', async () => {
    // The page is on Resources: nobody asks for the metrics, and the history fills all the same.
    assert.equal(new URL(page.url()).hash, '#resources');
    const before = await waitFor(async () => (await historyOf(find)).length >= 3 && historyOf(find), {
      timeoutMs: 30_000,
      what: 'three windows in the history',
    });
    await page.goto(`${dashboard.url}/#metrics`);
    // The first charts drawn: the history there before, not the windows from the page's own polls.
    const first = await waitFor(async () => {
      const shown = await charts();
      return shown.length === 3 && shown;
    });
    for (const chart of first)
      assert.ok(chart.points >= before.length, `${chart.title}: ${chart.points} dots`);
  });

  test('a dot per window; the text alternative says the latest and the max, at 1280 and 360 px', async () => {
    await page.goto(`${dashboard.url}/#metrics`);
    await page.getByRole('heading', { name: 'Over time', level: 2 }).waitFor();
    // The first series is chosen: vessel Find, measured by the service.
    assert.equal(
      await page.getByLabel('Series').locator('option:checked').textContent(),
      'vessel VesselService.FindAvailable (at service)',
    );
    // Past the restart: its window is 10 calls, like the others, not a negative rate or a spike.
    await checkFindCharts(restartAt + 1);
    for (const point of await historyOf(find)) {
      assert.ok(Math.abs(point.requestsPerSecond * point.windowSeconds - 10) < 1e-9, JSON.stringify(point));
    }
    await page.setViewportSize({ width: 360, height: 800 });
    await checkFindCharts(restartAt + 2);
    await page.setViewportSize({ width: 1280, height: 800 });
    // The table stays, under the charts.
    await page.getByRole('rowheader', { name: list }).waitFor();
    await photograph(page, 'metrics-charts');
  });

  test('the polling neither takes the focus nor changes the series chosen', async () => {
    const chooser = page.getByLabel('Series');
    await chooser.selectOption({ label: 'vessel VesselService.List (at service)' });
    await chooser.focus();
    const before = (await chartsWith(1))[0]!;
    await waitFor(
      async () => (await charts())[0]!.label.startsWith('Requests/s of vessel VesselService.List'),
      {
        what: 'the charts of List',
      },
    );
    // Two more polls: each redraws the charts and the table.
    const { points } = await chartsWith(before.points + 2).then((shown) => shown[0]!);
    assert.ok(points >= 2);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'metrics-series');
    assert.equal(
      await chooser.locator('option:checked').textContent(),
      'vessel VesselService.List (at service)',
    );
    const [, errors] = await charts();
    // List never fails.
    assert.match(
      errors!.label,
      /^Error rate of vessel VesselService\.List \(at service\): latest 0\.0 %, max 0\.0 %;/,
    );
  });
});
