/**
 * The session across tabs and the System page, against the real system: logging out
 * in one tab logs out the others and revokes the token at the user service; the
 * System page needs a session, shows each instance's readiness checks, refreshes
 * without moving focus, and says "unknown" on every card while the gateway is stopped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  assertFocused,
  checkState,
  gatewayPid,
  heading,
  register,
  rpc,
  sessionToken,
  startShippy,
  tabTo,
} from './browser.ts';

const shippy = startShippy();
let page: Page;

const user = {
  name: 'Katherine Johnson',
  company: 'Orbital Freight',
  email: 'kj@example.com',
  password: 'trajectory',
};
const services = ['consignment', 'user', 'vessel'];

test('the System page needs a session', async () => {
  page = await shippy.context.newPage();
  await page.goto(`${shippy.base}/system`);
  await heading(page, 'Log in').waitFor();
  assert.equal(new URL(page.url()).pathname, '/login');
  await register(page, shippy.base, user);
});

test('a reload keeps the session; a token the services refuse ends it with a note', async () => {
  await page.reload();
  await heading(page, 'Consignments').waitFor();
  await page.getByText(`Signed in as ${user.name}`).waitFor();

  const other = await shippy.browser.newContext();
  const mallory = await other.newPage();
  try {
    await mallory.goto(`${shippy.base}/login`);
    await mallory.evaluate(() =>
      localStorage.setItem(
        'shippy.session',
        JSON.stringify({ token: 'not-a-jwt', userId: 'x', name: 'Mallory', email: 'm@example.com' }),
      ),
    );
    await mallory.goto(`${shippy.base}/consignments`);
    await heading(mallory, 'Log in').waitFor();
    assert.equal(
      await mallory.getByRole('status').textContent(),
      'Your session has expired. Please log in again.',
    );
  } finally {
    await other.close();
  }
});

test('the System page shows each instance with its readiness checks; its refresh leaves focus alone', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'System' }).click();
  await heading(page, 'System').waitFor();
  await page.getByRole('region', { name: 'Gateway' }).getByText('Ready', { exact: true }).waitFor();
  for (const service of services) {
    const instance = page
      .getByRole('region', { name: service, exact: true })
      .getByRole('list', { name: `Instances of ${service}` })
      .getByRole('listitem')
      .first();
    await instance
      .getByRole('list', { name: /^Readiness checks of / })
      .getByText('serving: ok')
      .waitFor();
    await instance.getByText('Ready', { exact: true }).waitFor();
  }
  await checkState(page, 'system');

  const refresh = page.getByRole('button', { name: 'Refresh' });
  await tabTo(page, refresh, 'the Refresh button');
  const updated = page.getByText(/^Updated /);
  const first = await updated.textContent();
  // Two refreshes by the timer (the time shown changes with each answer).
  for (let n = 0; n < 2; n++) {
    const shown = await updated.textContent();
    await page.waitForFunction((text) => !document.body.textContent?.includes(text ?? ''), shown, {
      timeout: 30_000,
    });
    await assertFocused(page, refresh, 'the Refresh button, after a refresh');
  }
  assert.notEqual(await updated.textContent(), first);
});

test('with the gateway stopped, every card says unknown, not the last green state', async () => {
  const gateway = gatewayPid(shippy.runner);
  process.kill(gateway, 'SIGSTOP');
  try {
    for (const name of ['Gateway', ...services]) {
      await page
        .getByRole('region', { name, exact: true })
        .getByText('Unknown', { exact: true })
        .first()
        .waitFor({ timeout: 30_000 });
    }
    assert.equal(await page.getByText('Ready', { exact: true }).count(), 0, 'nothing still says Ready');
    assert.equal(await page.getByText(/^Up · /).count(), 0, 'nothing still says Up');
    assert.match(
      (await page.getByRole('alert').textContent()) ?? '',
      /^Cannot reach the gateway \(no answer in time\)/,
    );
    await page.getByText(/^Last answer at \d\d:\d\d:\d\d; nothing is known since$/).waitFor();
    await checkState(page, 'system-gateway-stopped');
  } finally {
    process.kill(gateway, 'SIGCONT');
  }
  await page
    .getByRole('region', { name: 'Gateway' })
    .getByText('Ready', { exact: true })
    .waitFor({ timeout: 30_000 });
  assert.equal(await page.getByRole('alert').count(), 0);
});

test('logging out in one tab logs out the others, and the token is revoked', async () => {
  const other = await shippy.context.newPage();
  await other.goto(`${shippy.base}/vessels`);
  await heading(other, 'Vessels').waitFor();
  const token = await sessionToken(page);
  assert.equal((await rpc(shippy.base, 'user', 'UserService.GetAll', {}, token)).status, 200);

  await page.getByRole('button', { name: 'Log out' }).click();
  await heading(page, 'Log in').waitFor();
  assert.equal(await page.getByRole('status').textContent(), 'You have logged out.');

  await heading(other, 'Log in').waitFor();
  assert.equal(new URL(other.url()).pathname, '/login');
  assert.equal(await other.getByRole('status').textContent(), 'You have logged out in another tab.');
  assert.equal(await other.getByRole('button', { name: 'Log out' }).count(), 0);
  await checkState(other, 'logged-out-elsewhere');

  const after = await rpc(shippy.base, 'user', 'UserService.GetAll', {}, token);
  assert.equal(after.status, 401, `the old token is refused: ${JSON.stringify(after.body)}`);
  await other.close();
});
