/**
 * The Resources page's Stop / Start / Restart for the runner's own units, in a real
 * browser (Debian's Chromium, driven by playwright-core) against `berth run` of the
 * runner's fixture (`store` and the embedded postgres): the gateway and postgres rows
 * have the buttons services have, a restart from the keyboard brings the gateway back
 * Up with a new process, and the broker's row says why it has none.
 */
import assert from 'node:assert/strict';
import { afterEach, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { BerthRun, rpc } from '../runner/berth-run.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { launchChromium, openDashboard } from './support/browser.ts';

const cleanup = fileCleanup();
let run: BerthRun;
let page: Page;
const pageErrors: Error[] = [];

before(async () => {
  // NATS_URL empty: the direct broker, whatever the environment of the tests says.
  run = await BerthRun.start({
    target: 'test/runner/fixtures',
    args: ['--only', 'store'],
    env: { NO_COLOR: '1', NATS_URL: '' },
    cleanup,
  });
  const { dashboard } = run.state();
  page = await openDashboard(
    await launchChromium(cleanup),
    `${dashboard!.url}/#t=${dashboard!.token}`,
    pageErrors,
  );
});

afterEach(() => {
  assert.deepEqual(pageErrors.splice(0), [], 'errors thrown in the page');
});

const row = (instance: string) => page.locator(`tr[data-instance="${instance}"]`);

test('the gateway and postgres rows have Stop, Start and Restart; the broker row says why not', async () => {
  for (const unit of ['gateway', 'postgres']) {
    await row(unit).locator('.state', { hasText: /^Up$/ }).waitFor();
    for (const label of ['Stop', 'Start', 'Restart']) {
      await row(unit)
        .getByRole('button', { name: `${label} ${unit}`, exact: true })
        .waitFor();
    }
    // Up: Start is the one that does nothing.
    assert.equal(
      await row(unit)
        .getByRole('button', { name: `Start ${unit}`, exact: true })
        .isDisabled(),
      true,
    );
  }
  await row('broker (direct)').getByText('nothing to stop: no process').waitFor();
  assert.equal(await row('broker (direct)').getByRole('button').count(), 0);
});

test('Restart gateway from the keyboard brings it back Up, a new process that routes again', async () => {
  const pidCell = row('gateway').locator('td.num').first();
  const before = await pidCell.textContent();
  await page.getByRole('button', { name: 'Restart gateway', exact: true }).focus();
  await page.keyboard.press('Enter');
  await page.getByText('gateway: restart done').waitFor({ timeout: 60_000 });
  // The row after the restart: a new pid, Up.
  await waitFor(async () => (await pidCell.textContent()) !== before, {
    what: 'the new gateway pid on the page',
  });
  await row('gateway').locator('.state', { hasText: /^Up$/ }).waitFor();
  assert.equal(run.state().processes.find((p) => p.instance === 'gateway')!.status, 'ready');
  const hello = await rpc(run.gateway, { service: 'store', method: 'Say.Hello', request: { name: 'page' } });
  assert.equal(hello.status, 200, JSON.stringify(hello.body));
});
