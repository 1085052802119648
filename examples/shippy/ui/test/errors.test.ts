/**
 * What the UI says when something is wrong, against the real system: blank and
 * out-of-range values refused in the page (nothing sent), a service's refusal
 * attached to its field, no room on any ship with a way out, a stopped service
 * named as the one that is down, and on a phone the message and the button in view.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { waitFor } from '../../../../test/support/wait.ts';
import {
  assertFocused,
  checkState,
  heading,
  inView,
  register,
  servicePid,
  startShippy,
  startTimeoutMs,
} from './browser.ts';

const shippy = startShippy();
let page: Page;

const user = {
  name: 'Grace Hopper',
  company: 'Cobol Cargo',
  email: 'grace@example.com',
  password: 'nanoseconds',
};

/** The field `label`'s error: it is aria-invalid and described by an element saying `message`. */
async function assertFieldError(label: string, message: string): Promise<void> {
  const field = page.getByLabel(label, { exact: true });
  assert.equal(await field.getAttribute('aria-invalid'), 'true', `${label} is aria-invalid`);
  const described = (await field.getAttribute('aria-describedby')) ?? '';
  const texts = await Promise.all(
    described.split(' ').map((id) => page.locator(`[id="${id}"]`).textContent()),
  );
  assert.ok(
    texts.includes(message),
    `${label} is described by "${message}"; it has ${JSON.stringify(texts)}`,
  );
}

/** Counts calls to /rpc from now on: what "refused in the page" means is that none was made. */
function countCalls(): () => number {
  let calls = 0;
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/rpc') calls++;
  });
  return () => calls;
}

test('blank and out-of-range values are refused in the page, each at its field and in a summary', async () => {
  page = await shippy.context.newPage();
  await register(page, shippy.base, user);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Vessels' }).click();
  await heading(page, 'Vessels').waitFor();
  await page.getByRole('list', { name: 'Vessels' }).waitFor();

  const calls = countCalls();
  await page.getByLabel('Vessel name').fill('   ');
  await page.getByLabel('Maximum weight (kg)').fill('0');
  await page.getByRole('button', { name: 'Add vessel' }).click();
  const summary = page.getByRole('alert');
  await summary.waitFor();
  await assertFocused(page, summary, 'the error summary');
  assert.match((await summary.textContent()) ?? '', /^Fix these 3 problems to continue:/);
  await assertFieldError('Vessel name', 'Enter the vessel’s name.');
  await assertFieldError('Capacity (containers)', 'Enter how many containers the vessel carries.');
  await assertFieldError(
    'Maximum weight (kg)',
    'The maximum weight must be a whole number of kilograms from 1 to 1,000,000,000.',
  );
  assert.equal(calls(), 0, 'nothing was sent');
  await checkState(page, 'vessels-invalid');

  // Each problem in the summary leads to its field.
  await summary.getByRole('link', { name: 'Enter how many containers the vessel carries.' }).click();
  await assertFocused(page, page.getByLabel('Capacity (containers)'), 'the capacity field');
});

test('a refusal by the service is attached to the field it names', async () => {
  const other = await shippy.context.browser()!.newContext();
  const second = await other.newPage();
  try {
    await second.goto(`${shippy.base}/register`);
    await second.getByLabel('Name').fill('Someone Else');
    await second.getByLabel('Email').fill(user.email);
    await second.getByLabel('Password').fill('another password');
    await second.getByRole('button', { name: 'Create account' }).click();
    const summary = second.getByRole('alert');
    await summary.getByText('An account with this email already exists.').waitFor();
    await assertFocused(second, summary, 'the error summary');
    const email = second.getByLabel('Email');
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    const describedBy = (await email.getAttribute('aria-describedby')) ?? '';
    assert.equal(
      await second.locator(`[id="${describedBy}"]`).textContent(),
      'An account with this email already exists.',
    );
    await checkState(second, 'register-taken');
  } finally {
    await other.close();
  }
});

test('no ship with room: the service’s reason, a link to add a vessel, in view on a phone', async () => {
  await page.setViewportSize({ width: 360, height: 640 });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Consignments' }).click();
  await heading(page, 'Consignments').waitFor();
  await page.getByLabel('Description').fill('A mountain');
  await page.getByLabel('Total weight (kg)').fill('900000000');
  await page.getByLabel('Customer ID').fill('customer-9');
  await page.getByLabel('Origin').fill('Alps');
  const book = page.getByRole('button', { name: 'Book consignment' });
  await book.click();
  const summary = page.getByRole('alert');
  await summary.waitFor();
  assert.match(
    (await summary.textContent()) ?? '',
    /^No ship has room for 1 container and 900,000,000 kg; the most room on one ship is .+ kg\. Add a vessel or split the consignment\.$/,
  );
  await assertFocused(page, summary, 'the error summary');
  assert.ok(await inView(page, summary), 'the message is in view at 360 px');
  assert.ok(await inView(page, book), 'the button is in view at 360 px');
  await checkState(page, 'consignments-no-room');

  await page.keyboard.press('Tab');
  await assertFocused(page, summary.getByRole('link', { name: 'Add a vessel' }), 'the Add a vessel link');
  await page.keyboard.press('Enter');
  await assertFocused(page, heading(page, 'Vessels'), 'the Vessels heading');
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('a stopped vessel service is named as the one that is down, wherever it is called from', async () => {
  const nav = page.getByRole('navigation', { name: 'Main' });
  const before = await servicePid(shippy.base, 'vessel');
  // Killed while the runner is paused, so it cannot be restarted before the page asks for it.
  process.kill(shippy.runner.pid, 'SIGSTOP');
  try {
    process.kill(before, 'SIGKILL');
    // Through the consignment service, which books room with vessel.Reserve.
    await nav.getByRole('link', { name: 'Consignments' }).click();
    await page.getByLabel('Description').fill('Bananas');
    await page.getByLabel('Total weight (kg)').fill('1000');
    await page.getByLabel('Customer ID').fill('customer-1');
    await page.getByLabel('Origin').fill('Quito');
    await page.setViewportSize({ width: 360, height: 640 });
    // The list above the form is loaded (or has failed) before the form is sent, as a person would see it.
    const list = page.getByRole('region', { name: 'Your consignments' });
    await list
      .getByText(/^No consignments yet\.$|^The \w+ service /)
      .first()
      .waitFor();
    await page.getByRole('button', { name: 'Book consignment' }).click();
    const summary = page.getByRole('region', { name: 'New consignment' }).getByRole('alert');
    await summary.waitFor();
    await assertFocused(page, summary, 'the error summary');
    assert.match(
      (await summary.textContent()) ?? '',
      /^The vessel service is unavailable right now: .*Try again in a moment\.$/,
    );
    assert.ok(await inView(page, summary), 'the message is in view at 360 px');
    assert.ok(
      await inView(page, page.getByRole('button', { name: 'Book consignment' })),
      'the button is in view',
    );
    await checkState(page, 'consignments-vessel-down');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Directly.
    await nav.getByRole('link', { name: 'Vessels' }).click();
    const fleetError = page.getByRole('alert');
    await fleetError.waitFor();
    assert.match((await fleetError.textContent()) ?? '', /^The vessel service is unavailable right now: /);
    await checkState(page, 'vessels-down');
  } finally {
    process.kill(shippy.runner.pid, 'SIGCONT');
  }
  await waitFor(async () => (await servicePid(shippy.base, 'vessel')) !== before, {
    timeoutMs: startTimeoutMs,
    intervalMs: 250,
    what: 'the runner to restart vessel',
  });
  // Try again goes away with the error; focus goes to the list's heading, not <body>.
  await page.getByRole('button', { name: 'Try again' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('list', { name: 'Vessels' }).waitFor();
  await assertFocused(page, page.getByRole('heading', { name: 'Fleet' }), 'the Fleet heading');
  assert.equal(await page.getByRole('alert').count(), 0);
});
