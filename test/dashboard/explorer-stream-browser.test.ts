/**
 * The API explorer's streaming methods in a real browser (Debian's Chromium driven
 * by playwright-core, 1280 px), the dashboard before a real gateway and Countdown
 * service: the server, client and bidi streams listed and called, each message shown
 * as it arrives (while the stream is still open), then the count, how it ended and a
 * link to its trace; a stream that fails shows its error after the messages that
 * came; Stop cancels the call at the service. Checked with axe-core and photographed.
 */
import assert from 'node:assert/strict';
import { afterEach, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { launchChromium, openDashboard, photograph } from './support/browser.ts';
import { type CountdownSystem, startCountdownSystem } from './support/countdown-system.ts';

const cleanup = fileCleanup();
let system: CountdownSystem;
let dashboard: Dashboard;
let page: Page;
const pageErrors: Error[] = [];

before(async () => {
  system = await startCountdownSystem(cleanup);
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
  assert.deepEqual(await method.locator('option').allTextContents(), [
    'Countdown.Count (server stream)',
    'Countdown.Double (bidi stream: a list of requests)',
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

test('a message shows while its stream is still open; Stop cancels the call at the service', async () => {
  const cancelledBefore = system.cancelledCount();
  // {from: 0}: the service sends one message, then holds the stream open.
  const answer = await callCount({ from: 0 });
  await answer.getByRole('listitem').waitFor();
  assert.deepEqual(JSON.parse((await answer.getByRole('listitem').textContent()) ?? ''), {});
  await answer.getByText('1 message so far, the stream is open…').waitFor();
  const stop = page.getByRole('button', { name: 'Stop' });
  assert.ok(await page.getByRole('button', { name: 'Call' }).isDisabled(), 'one call at a time');
  await photograph(page, 'api-stream-open');
  await stop.click();
  await answer.getByText('Stopped after 1 message: the call was cancelled').waitFor();
  assert.ok(await stop.isDisabled(), 'nothing left to stop');
  await waitFor(() => system.cancelledCount() > cancelledBefore, {
    what: 'the service to see its call cancelled',
  });
});

/** Chooses `label`, checks its request is prefilled with a list, sends `requests`. */
async function callWithList(label: string, requests: unknown[]) {
  await page.goto(`${dashboard.url}/#api`);
  const method = page.getByLabel('Method');
  await method.locator('option', { hasText: label }).waitFor({ state: 'attached' });
  await method.selectOption({ label });
  const field = page.getByLabel('Request (JSON)');
  assert.ok(Array.isArray(JSON.parse(await field.inputValue())), 'prefilled with a list');
  await field.fill(JSON.stringify(requests));
  await page.getByRole('button', { name: 'Call' }).click();
  return page.getByRole('region', { name: 'Answer' });
}

test('a client stream takes a list of requests and shows its one answer', async () => {
  const answer = await callWithList('Tally.Sum (client stream: a list of requests)', [
    { value: 1 },
    { value: 41 },
  ]);
  await answer.getByText(/^1 message, ended ok, in/).waitFor();
  assert.deepEqual(JSON.parse((await answer.getByRole('listitem').textContent()) ?? ''), { total: 42 });
});

test('a bidi stream takes a list of requests and shows each answer', async () => {
  const answer = await callWithList('Countdown.Double (bidi stream: a list of requests)', [
    { value: 1 },
    { value: 21 },
  ]);
  await answer.getByText(/^2 messages, ended ok, in/).waitFor();
  assert.deepEqual(
    (await answer.getByRole('listitem').allTextContents()).map((text) => JSON.parse(text)),
    [{ value: 2 }, { value: 42 }],
  );
  // The longest method name in the list: at 360 px the page still does not scroll sideways.
  await page.setViewportSize({ width: 360, height: 800 });
  assert.ok(
    (await page.evaluate(() => document.documentElement.scrollWidth)) <= 360,
    'no sideways scroll at 360 px',
  );
  await page.setViewportSize({ width: 1280, height: 800 });
  await photograph(page, 'api-bidi');
});
