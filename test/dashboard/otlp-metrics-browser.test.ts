/**
 * The Metrics page's "Exported metrics (OTLP)" section in a real browser (Debian's
 * Chromium, playwright-core), fed by the real OpenTelemetry protobuf metrics
 * exporter: the series show in the table with their latest numbers, the chosen
 * one is charted a point per export, the service filter narrows both, and the
 * section fits 1280 and 360 px.
 */
import assert from 'node:assert/strict';
import { afterEach, before, test } from 'node:test';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { Page } from 'playwright-core';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { launchChromium, openDashboard, photograph } from './support/browser.ts';
import { idleRuntime } from './support/idle-runtime.ts';

const cleanup = fileCleanup();
const pageErrors: Error[] = [];
let dashboard: Dashboard;
let page: Page;

/** A provider of `service` whose metrics the test exports, by flushing it. */
function providerOf(service: string): MeterProvider {
  const exporter = new OTLPMetricExporter({
    url: `${dashboard.url}/v1/metrics`,
    headers: { authorization: `Bearer ${dashboard.ingestToken}` },
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
  });
  cleanup(() => provider.shutdown());
  return provider;
}

before(async () => {
  dashboard = await Dashboard.start({ runtime: idleRuntime });
  cleanup(() => dashboard.close());
  const orders = providerOf('orders');
  const placed = orders.getMeter('orders').createCounter('orders.placed', { unit: '{order}' });
  const latency = orders.getMeter('orders').createHistogram('checkout.duration', {
    unit: 'ms',
    advice: { explicitBucketBoundaries: [10, 50, 100] },
  });
  for (const [count, duration] of [
    [3, 20],
    [4, 20],
    [5, 80],
  ] as const) {
    placed.add(count, { region: 'eu-west-1' });
    latency.record(duration);
    await orders.forceFlush();
  }
  const billing = providerOf('billing');
  billing.getMeter('billing').createGauge('invoices.pending').record(9);
  await billing.forceFlush();
  page = await openDashboard(await launchChromium(cleanup), dashboard.pageUrl, pageErrors);
});

afterEach(() => {
  assert.deepEqual(pageErrors.splice(0), [], 'errors thrown in the page');
});

const section = () => page.getByRole('region', { name: 'Exported metrics (OTLP)' });

/** The exported series' rows as shown: metric, attributes, latest, unit. */
const rows = () =>
  section()
    .locator('tbody tr')
    .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (cell) => cell.textContent!.trim())));

/** The section's chart once it has `points` dots: its title and text alternative. */
const chartWith = (points: number) =>
  waitFor(
    async () => {
      const chart = section().locator('.chart');
      if ((await chart.count()) !== 1 || (await chart.locator('.chart-point').count()) !== points)
        return false;
      return {
        title: await chart.locator('h3').textContent(),
        label: await chart.getByRole('img').getAttribute('aria-label'),
        width: (await chart.locator('svg').boundingBox())!.width,
      };
    },
    { what: `the exported series' chart with ${points} points` },
  );

test('the exported series show in a table and the chosen one is charted, at 1280 and 360 px', async () => {
  await page.goto(`${dashboard.url}/#metrics`);
  await section().getByRole('heading', { name: 'Exported metrics (OTLP)', level: 2 }).waitFor();
  await waitFor(async () => (await rows()).length === 3, { what: 'three exported series' });
  assert.deepEqual(await rows(), [
    ['billing', 'invoices.pending gauge', '–', '9', '–'],
    ['orders', 'checkout.duration cumulative histogram', '–', 'count 3, sum 120, p95 ≤ 100', 'ms'],
    ['orders', 'orders.placed cumulative sum', 'region=eu-west-1', '12', '{order}'],
  ]);

  // The first series is chosen; the orders' counter is charted a point per export.
  const chooser = page.getByLabel('Exported metric', { exact: true });
  await chooser.selectOption({ label: 'orders orders.placed {region=eu-west-1}' });
  const chart = await chartWith(3);
  assert.equal(chart.title, 'orders.placed: Value');
  assert.match(
    chart.label!,
    /^orders\.placed: Value of orders orders\.placed \{region=eu-west-1\}: latest 12 \{order\}, max 12 \{order\}; 3 windows/,
  );
  assert.ok(chart.width > 100, `${chart.width} px wide`);

  await page.setViewportSize({ width: 360, height: 800 });
  const narrow = await chartWith(3);
  assert.ok(narrow.width > 100 && narrow.width < 360, `${narrow.width} px wide at 360 px`);
  assert.ok(
    (await page.evaluate(() => document.documentElement.scrollWidth)) <= 360,
    'nothing wider than 360 px',
  );
  await page.setViewportSize({ width: 1280, height: 800 });
  await photograph(page, 'metrics-otlp');
});

test('the service filter narrows the table and the series offered', async () => {
  await page.getByLabel('Service', { exact: true }).selectOption('billing');
  await waitFor(async () => (await rows()).length === 1, { what: 'the billing series only' });
  assert.equal((await rows())[0]![1], 'invoices.pending gauge');
  assert.deepEqual(
    await page.getByLabel('Exported metric', { exact: true }).locator('option').allTextContents(),
    ['billing invoices.pending'],
  );
  const chart = await chartWith(1);
  assert.match(
    chart.label!,
    /^invoices\.pending: Value of billing invoices\.pending: latest 9, max 9; 1 window/,
  );
});
