/**
 * The API explorer's streaming methods in a real browser (Debian's Chromium driven
 * by playwright-core), the dashboard before a real gateway and Countdown service:
 * the server stream listed (the bidi one not), called, each of its messages shown
 * with the count, how it ended and a link to its trace; a stream that fails shows
 * its error after the messages that came. Checked with axe-core and photographed.
 */
import assert from 'node:assert/strict';
import { afterEach, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { launchChromium, openDashboard, photograph } from './support/browser.ts';
import { startCountdownSystem } from './support/countdown-system.ts';

const cleanup = fileCleanup();
let dashboard: Dashboard;
let page: Page;
const pageErrors: Error[] = [];

before(async () => {
  const system = await startCountdownSystem(cleanup);
  dashboard = await Dashboard.start({ runtime: system.runtime });
  cleanup(() => dashboard.close());
  const browser = await launchChromium(cleanup);
  page = await openDashboard(browser, `${dashboard.url}/#t=${dashboard.token}`, pageErrors);
});

afterEach(() => {
  assert.deepEqual(pageErrors.splice(0), [], 'errors thrown in the page');
});

async function callCount(request: unknown) {
  await page.goto(`${dashboard.url}/#api`);
  const method = page.getByLabel('Method');
  await method.locator('option', { hasText: 'Countdown.Count' }).waitFor({ state: 'attached' });
  // Double, a bidi stream, is not listed: the gateway cannot relay it.
  assert.deepEqual(await method.locator('option').allTextContents(), [
    'Countdown.Count (server stream)',
    'Tally.Sum (client stream: a list of requests)',
  ]);
  await method.selectOption({ label: 'Countdown.Count (server stream)' });
  const field = page.getByLabel('Request (JSON)');
  assert.deepEqual(JSON.parse(await field.inputValue()), { from: 0, fail_after: 0 });
  await field.fill(JSON.stringify(request));
  await page.getByRole('button', { name: 'Call' }).click();
  return page.getByRole('region', { name: 'Answer' });
}

test('a server stream is listed, called, and each of its messages shown', async () => {
  const answer = await callCount({ from: 3 });
  await answer.getByText(/^3 messages, ended ok, in/).waitFor();
  const messages = answer.getByRole('list', { name: 'Messages' }).getByRole('listitem');
  assert.deepEqual(
    (await messages.allTextContents()).map((text) => JSON.parse(text)),
    [{ value: 3 }, { value: 2 }, { value: 1 }],
  );
  assert.match(
    (await answer.getByRole('link', { name: 'view its trace' }).getAttribute('href')) ?? '',
    /^#trace\/[0-9a-f]{32}$/,
  );
  await photograph(page, 'api-stream');
});

test('a stream that fails shows the messages that came, then its error', async () => {
  const answer = await callCount({ from: 5, fail_after: 2 });
  await answer.getByText(/^2 messages, ended with internal: the counter broke, in/).waitFor();
  assert.equal(await answer.getByRole('listitem').count(), 2);
});

test('a client stream takes a list of requests and shows its one answer', async () => {
  await page.goto(`${dashboard.url}/#api`);
  const method = page.getByLabel('Method');
  const label = 'Tally.Sum (client stream: a list of requests)';
  await method.locator('option', { hasText: label }).waitFor({ state: 'attached' });
  await method.selectOption({ label });
  const field = page.getByLabel('Request (JSON)');
  assert.ok(Array.isArray(JSON.parse(await field.inputValue())), 'prefilled with a list');
  await field.fill(JSON.stringify([{ value: 1 }, { value: 41 }]));
  await page.getByRole('button', { name: 'Call' }).click();
  const answer = page.getByRole('region', { name: 'Answer' });
  await answer.getByText(/^1 message, ended ok, in/).waitFor();
  assert.deepEqual(JSON.parse((await answer.getByRole('listitem').textContent()) ?? ''), { total: 42 });
});
