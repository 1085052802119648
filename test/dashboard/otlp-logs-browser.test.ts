/**
 * A log line sent over OTLP (POST /v1/logs) by a process that is not berth's, in a
 * real browser (Debian's Chromium, driven by playwright-core): on the Logs page with
 * its instance, level and text, filtered by level like any line, and its trace link
 * opens the trace its span belongs to.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { idleRuntime } from './support/idle-runtime.ts';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';
const resource = {
  attributes: [
    { key: 'service.name', value: { stringValue: 'payments-go' } },
    { key: 'service.instance.id', value: { stringValue: 'payments-go-7f9c' } },
  ],
};
const now = BigInt(Date.now()) * 1_000_000n;

let dashboard: Dashboard;
let browser: Browser;
let page: Page;
const pageErrors: Error[] = [];

before(async () => {
  dashboard = await Dashboard.start({ runtime: idleRuntime });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(error));
});
after(async () => {
  await browser?.close();
  await dashboard?.close();
});

async function ingest(path: string, body: unknown): Promise<void> {
  const answer = await fetch(`${dashboard.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${dashboard.ingestToken}` },
    body: JSON.stringify(body),
  });
  assert.equal(answer.status, 200, await answer.text());
}

test('an OTLP log line shows on the Logs page and links to its trace', async () => {
  await ingest('/v1/traces', {
    resourceSpans: [
      {
        resource,
        scopeSpans: [
          {
            spans: [
              {
                traceId,
                spanId,
                name: 'POST /charge',
                kind: 2,
                startTimeUnixNano: String(now),
                endTimeUnixNano: String(now + 5_000_000n),
              },
            ],
          },
        ],
      },
    ],
  });
  await ingest('/v1/logs', {
    resourceLogs: [
      {
        resource,
        scopeLogs: [
          {
            logRecords: [
              {
                timeUnixNano: String(now + 1_000_000n),
                severityNumber: 13,
                severityText: 'WARN',
                body: { stringValue: 'card declined, retrying' },
                traceId,
                spanId,
              },
            ],
          },
        ],
      },
    ],
  });

  await page.goto(`${dashboard.url}/#t=${dashboard.token}`);
  await page.getByRole('heading', { name: 'Resources', level: 1 }).waitFor();
  await page.goto(`${dashboard.url}/#logs`);
  const line = page.locator('.log-lines .log', { hasText: 'card declined, retrying' });
  await line.waitFor();
  assert.deepEqual(
    [await line.locator('.instance').textContent(), await line.locator('.level').textContent()],
    ['payments-go-7f9c', 'warn'],
  );

  // Filtered by level like a line the runner read: gone at error and above, back at warn.
  await page.getByLabel('Level').selectOption('error');
  await page.locator('.log-lines .empty').waitFor();
  await page.getByLabel('Level').selectOption('warn');
  await line.waitFor();

  await line.getByRole('link', { name: 'trace' }).click();
  await page.getByRole('heading', { name: 'Trace', level: 1 }).waitFor();
  assert.equal(new URL(page.url()).hash, `#trace/${traceId}`);
  await page.locator('.waterfall .span[data-service="payments-go"]').waitFor();
  assert.deepEqual(pageErrors, [], 'errors thrown in the page');
});
