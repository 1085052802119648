/**
 * The Traces page's attribute filter in a real browser (Debian's Chromium, driven by
 * playwright-core) against a real dashboard fed over OTLP/HTTP: typing
 * `rpc.method=FindAvailable` narrows the list to the traces that have it, a quoted
 * value with a space and a resource's attribute find theirs, the filter stays in the
 * field and the address across polls, a bad filter is said on the page, and the
 * "filter" link beside an attribute in a span's detail sets it.
 */
import assert from 'node:assert/strict';
import { afterEach, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { launchChromium, openDashboard, photograph } from './support/browser.ts';
import { idleRuntime } from './support/idle-runtime.ts';

const cleanup = fileCleanup();
const pageErrors: Error[] = [];
let dashboard: Dashboard;
let page: Page;

const now = BigInt(Date.now()) * 1_000_000n;
const string = (text: string) => ({ stringValue: text });
/** One trace of one span of `service` (instance `instance`), calling `rpcService`.`method`. */
function traceOf(
  traceId: string,
  [service, instance]: [string, string],
  [rpcService, method]: [string, string],
  more: Array<{ key: string; value: unknown }> = [],
) {
  return {
    resource: {
      attributes: [
        { key: 'service.name', value: string(service) },
        { key: 'service.instance.id', value: string(instance) },
      ],
    },
    scopeSpans: [
      {
        spans: [
          {
            traceId,
            spanId: '00f067aa0ba902b7',
            name: `${rpcService}/${method}`,
            kind: 2,
            startTimeUnixNano: String(now),
            endTimeUnixNano: String(now + 3_000_000n),
            attributes: [
              { key: 'rpc.service', value: string(rpcService) },
              { key: 'rpc.method', value: string(method) },
              ...more,
            ],
          },
        ],
      },
    ],
  };
}

const ids = { find: '1'.repeat(32), list: '2'.repeat(32), create: '3'.repeat(32) };

before(async () => {
  dashboard = await Dashboard.start({ runtime: idleRuntime });
  cleanup(() => dashboard.close());
  const answer = await fetch(`${dashboard.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${dashboard.ingestToken}` },
    body: JSON.stringify({
      resourceSpans: [
        traceOf(ids.find, ['vessel', 'vessel-2'], ['vessel.VesselService', 'FindAvailable']),
        traceOf(ids.list, ['vessel', 'vessel-1'], ['vessel.VesselService', 'List']),
        traceOf(
          ids.create,
          ['user', 'user-1'],
          ['user.UserService', 'Create'],
          [{ key: 'messaging.destination.name', value: string('user created') }],
        ),
      ],
    }),
  });
  assert.equal(answer.status, 200, await answer.text());
  const browser = await launchChromium(cleanup);
  page = await openDashboard(browser, dashboard.pageUrl, pageErrors);
});

afterEach(() => {
  assert.deepEqual(pageErrors.splice(0), [], 'errors thrown in the page');
});

/** The trace ids the list shows, once it shows exactly `expected` (sorted). */
async function waitForListed(expected: string[]): Promise<void> {
  const want = JSON.stringify([...expected].sort());
  await page.waitForFunction(
    (want) =>
      JSON.stringify(
        Array.from(document.querySelectorAll('tbody th a'))
          .map((link) => link.getAttribute('href')!.slice('#trace/'.length))
          .sort(),
      ) === want,
    want,
  );
}

const filterField = () => page.getByLabel('Attribute filter');

describe('the attribute filter of the Traces page', () => {
  test('typing rpc.method=FindAvailable narrows the list to the traces that have it, and stays over polls', async () => {
    await page.goto(`${dashboard.url}/#traces`);
    await waitForListed(Object.values(ids));
    await filterField().pressSequentially('rpc.method=FindAvailable');
    await waitForListed([ids.find]);
    assert.equal(new URL(page.url()).hash, `#traces/${encodeURIComponent('rpc.method=FindAvailable')}`);
    // Two polls later (every 3 s), the field still has the focus and its text, and the list its filter.
    for (let poll = 0; poll < 2; poll++) {
      await page.waitForResponse((response) => response.url().includes('/api/traces?'), { timeout: 10_000 });
    }
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'trace-attributes');
    assert.equal(await filterField().inputValue(), 'rpc.method=FindAvailable');
    await waitForListed([ids.find]);
    await photograph(page, 'traces-attributes');
  });

  test('a quoted value with a space, a resource attribute, filters that must all match, and a bad one', async () => {
    await filterField().fill('messaging.destination.name="user created"');
    await waitForListed([ids.create]);
    await filterField().fill('service.instance.id=vessel-1 rpc.method');
    await waitForListed([ids.list]);
    await filterField().fill('service.instance.id=vessel-1 rpc.method=FindAvailable');
    await page.getByText('No trace matches these filters.').waitFor();
    await filterField().fill('=FindAvailable');
    await page.getByText('attr: "=FindAvailable": empty key (expected key=value or key)').waitFor();
    await filterField().fill('');
    await waitForListed(Object.values(ids));
    assert.equal(new URL(page.url()).hash, '#traces');
  });

  test("the filter link beside a span's attribute lists the traces that have it", async () => {
    await page.goto(`${dashboard.url}/#trace/${ids.find}`);
    await page.getByRole('button', { name: /FindAvailable/ }).click();
    await page.getByRole('link', { name: 'Filter traces by service.instance.id=vessel-2' }).click();
    await page.getByRole('heading', { name: 'Traces', level: 1 }).waitFor();
    assert.equal(await filterField().inputValue(), 'service.instance.id=vessel-2');
    await waitForListed([ids.find]);
  });
});
