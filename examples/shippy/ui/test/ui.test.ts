/**
 * The shippy web UI in a real browser against the real system, started the way
 * `npm start` starts it: the UI built into ui/dist, then `berth run examples/shippy`
 * (embedded Postgres, gateway, every service) on a free port with a temp data dir.
 * Debian's Chromium, headless, driven by playwright-core; controls are found by
 * role and accessible name, as a person or a screen reader finds them.
 *
 * Screenshots of every page at 360 px and 1280 px go to test-results/screenshots/.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { fileCleanup } from '../../../../test/support/cleanup.ts';
import { ServiceProcess } from '../../../../test/support/processes.ts';
import { waitFor } from '../../../../test/support/wait.ts';

const uiRoot = resolve(import.meta.dirname, '..');
const repoRoot = resolve(uiRoot, '../../..');
const screenshots = join(repoRoot, 'test-results', 'screenshots');
const widths = [360, 1280];
/** Cold start of PGlite and four services on a busy 2-core machine. */
const startTimeoutMs = 120_000;

const cleanup = fileCleanup();
let base = '';
let runner: ServiceProcess;
let browser: Browser;
let page: Page;

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

interface ServicesAnswer {
  services: Array<{ name: string; instances: Array<{ id: string; metadata: { pid?: string } }> }>;
}

async function listServices(): Promise<ServicesAnswer['services']> {
  return ((await (await fetch(`${base}/_berth/services`)).json()) as ServicesAnswer).services;
}

/** The pid of the one vessel process, as it registered itself. */
async function vesselPid(): Promise<number> {
  const vessel = (await listServices()).find((service) => service.name === 'vessel');
  const pid = Number(vessel?.instances[0]?.metadata.pid);
  assert.ok(pid > 0, `no vessel instance with a pid in ${JSON.stringify(vessel)}`);
  return pid;
}

before(async () => {
  // What the gateway serves is what this checkout's UI source builds to.
  await build({ root: uiRoot, logLevel: 'warn' });
  await mkdir(screenshots, { recursive: true });

  const dataDir = await mkdtemp(join(tmpdir(), 'shippy-ui-'));
  cleanup(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = { ...process.env, BERTH_DATA_DIR: dataDir, NO_COLOR: '1' };
  // Set by `node --test` for its own children; the runner is not one of them.
  delete env.NODE_TEST_CONTEXT;
  runner = new ServiceProcess(
    spawn(process.execPath, ['src/cli/main.ts', 'run', 'examples/shippy', '--port', String(port)], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  // SIGTERM lets the runner stop its children in order; it is the only way they all go.
  cleanup(() => runner.stop('SIGTERM', 30_000));

  await waitFor(
    async () => {
      if (!runner.running) throw new Error('berth run exited');
      if ((await fetch(`${base}/readyz`)).status !== 200) return false;
      const services = await listServices();
      return services.length > 0 && services.every((service) => service.instances.length > 0);
    },
    { timeoutMs: startTimeoutMs, intervalMs: 250, what: 'the gateway and every shippy service' },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- berth run output ---\n${runner.output}`);
  });

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  cleanup(() => browser.close());
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

/** Full-page screenshots of the current page at each width, then back to the desktop width. */
async function snap(name: string): Promise<void> {
  for (const width of widths) {
    await page.setViewportSize({ width, height: 800 });
    await page.screenshot({ path: join(screenshots, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** The page's title: each page has one h1. */
function heading(name: string) {
  return page.getByRole('heading', { name, level: 1 });
}

const user = {
  name: 'Ada Lovelace',
  company: 'Analytical Freight',
  email: 'ada@example.com',
  password: 'correct horse',
};

async function logIn(password: string): Promise<void> {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

test('register, log out, a wrong password is refused, log in', async () => {
  await page.goto(base);
  await heading('Log in').waitFor();
  await snap('login');

  await page.getByRole('link', { name: 'Create an account' }).click();
  await heading('Create an account').waitFor();
  await snap('register');
  await page.getByLabel('Name').fill(user.name);
  await page.getByLabel('Company').fill(user.company);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await heading('Consignments').waitFor();
  await page.getByText(`Signed in as ${user.name}`).waitFor();

  await page.getByRole('button', { name: 'Log out' }).click();
  await heading('Log in').waitFor();
  assert.equal(await page.getByRole('status').textContent(), 'You have logged out.');

  await logIn('not the password');
  assert.equal(await page.getByRole('alert').textContent(), 'Invalid email or password.');
  await snap('login-error');

  await logIn(user.password);
  await heading('Consignments').waitFor();
  await page.getByText(`Signed in as ${user.name}`).waitFor();
});

test('create a vessel and see it in the fleet', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Vessels' }).click();
  await heading('Vessels').waitFor();
  const fleet = page.getByRole('list', { name: 'Vessels' });
  await fleet.getByText("Kane's Salty Secret").waitFor();

  await page.getByLabel('Vessel name').fill('Boaty McBoatface');
  await page.getByLabel('Capacity').fill('10');
  await page.getByLabel('Max weight').fill('300000');
  await page.getByRole('button', { name: 'Add vessel' }).click();
  await page.getByRole('status').filter({ hasText: 'Vessel “Boaty McBoatface” created.' }).waitFor();
  await fleet.getByRole('listitem').filter({ hasText: 'Boaty McBoatface' }).waitFor();
  await snap('vessels');
});

test('a service that does not answer, or is down, says so', async () => {
  const nav = page.getByRole('navigation', { name: 'Main' });
  const fleetError = page.getByRole('alert');

  // Paused, the vessel process accepts connections but never answers: the gateway's deadline (10 s) passes.
  const paused = await vesselPid();
  process.kill(paused, 'SIGSTOP');
  try {
    await nav.getByRole('link', { name: 'Consignments' }).click();
    await nav.getByRole('link', { name: 'Vessels' }).click();
    await fleetError.waitFor({ timeout: 30_000 });
    assert.match((await fleetError.textContent()) ?? '', /^The vessel service did not answer in time: /);
  } finally {
    process.kill(paused, 'SIGCONT');
  }

  // Killed while the runner is paused, so it cannot be restarted before the page asks for it.
  process.kill(runner.pid, 'SIGSTOP');
  try {
    process.kill(await vesselPid(), 'SIGKILL');
    await nav.getByRole('link', { name: 'Consignments' }).click();
    await nav.getByRole('link', { name: 'Vessels' }).click();
    await fleetError.waitFor();
    assert.match((await fleetError.textContent()) ?? '', /^The vessel service is unavailable right now: /);
    await snap('vessels-unavailable');
  } finally {
    process.kill(runner.pid, 'SIGCONT');
  }
  // The runner restarts it; the pages after this one need it.
  await waitFor(async () => (await vesselPid()) !== paused, {
    timeoutMs: startTimeoutMs,
    intervalMs: 250,
    what: 'the runner to restart vessel',
  });
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('list', { name: 'Vessels' }).getByText('Boaty McBoatface').waitFor();
  assert.equal(await fleetError.count(), 0);
});

test('a consignment of 3 containers is listed with its vessel, one too heavy says why', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Consignments' }).click();
  await page.getByText('No consignments yet.').waitFor();

  await page.getByLabel('Description').fill('Pianos for Lisbon');
  // Heavier than the seeded vessel carries (200,000), so only the new vessel fits.
  await page.getByLabel('Weight').fill('250000');
  await page.getByRole('button', { name: 'Add container' }).click();
  await page.getByRole('button', { name: 'Add container' }).click();
  await page.getByRole('button', { name: 'Add container' }).click();
  // Four rows; the second goes, so the rows renumber.
  await page.getByRole('group', { name: 'Container 2' }).getByLabel('Customer ID').fill('dropped');
  await page.getByRole('button', { name: 'Remove container 2' }).click();
  assert.equal(await page.getByRole('group', { name: /^Container \d$/ }).count(), 3);
  for (const [index, origin] of ['Porto', 'Hamburg', 'Rotterdam'].entries()) {
    const row = page.getByRole('group', { name: `Container ${index + 1}` });
    await row.getByLabel('Customer ID').fill(`customer-${index + 1}`);
    await row.getByLabel('Origin').fill(origin);
  }
  await page.getByRole('button', { name: 'Create consignment' }).click();
  await page.getByRole('status').filter({ hasText: 'Consignment “Pianos for Lisbon” created.' }).waitFor();

  const listed = page
    .getByRole('list', { name: 'Your consignments' })
    .getByRole('listitem')
    .filter({ hasText: 'Pianos for Lisbon' });
  await listed.waitFor();
  assert.equal(await listed.locator('.vessel').textContent(), 'Boaty McBoatface');
  assert.deepEqual(
    await listed
      .getByRole('list', { name: 'Containers of Pianos for Lisbon' })
      .getByRole('listitem')
      .allTextContents(),
    ['customer-1 from Porto', 'customer-2 from Hamburg', 'customer-3 from Rotterdam'],
  );
  await snap('consignments');

  await page.getByLabel('Description').fill('A mountain');
  await page.getByLabel('Weight').fill('900000');
  await page.getByLabel('Customer ID').fill('customer-9');
  await page.getByLabel('Origin').fill('Alps');
  await page.getByRole('button', { name: 'Create consignment' }).click();
  assert.match((await page.getByRole('alert').textContent()) ?? '', /^No vessel can carry .*900000/);
  await snap('consignments-error');
});

test('a reload keeps the session; log out ends it', async () => {
  await page.reload();
  await heading('Consignments').waitFor();
  await page.getByText(`Signed in as ${user.name}`).waitFor();
  await page.getByRole('listitem').filter({ hasText: 'Pianos for Lisbon' }).waitFor();

  await page.getByRole('button', { name: 'Log out' }).click();
  await heading('Log in').waitFor();
  await page.reload();
  await heading('Log in').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Log out' }).count(), 0);
});

test('a session the services no longer accept goes back to the login page with a message', async () => {
  await page.evaluate(() =>
    localStorage.setItem(
      'shippy.session',
      JSON.stringify({ token: 'not-a-jwt', userId: 'x', name: 'Mallory', email: 'm@example.com' }),
    ),
  );
  await page.goto(`${base}/#/consignments`);
  // Only the hash changed: reload so the app starts again from what is stored.
  await page.reload();
  await heading('Log in').waitFor();
  assert.equal(
    await page.getByRole('status').textContent(),
    'Your session has expired. Please log in again.',
  );
});

test('the system page lists each service and its instances', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'System' }).click();
  await heading('System').waitFor();
  await page.getByRole('region', { name: 'Gateway' }).getByText('Ready').waitFor();
  for (const service of ['consignment', 'user', 'vessel']) {
    const section = page.getByRole('region', { name: service, exact: true });
    await section
      .getByRole('list', { name: `Instances of ${service}` })
      .getByRole('listitem')
      .first()
      .waitFor();
  }
  await snap('system');
});
