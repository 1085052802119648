/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core)
 * against `berth run examples/shippy`: every instance on the Resources page, vessel
 * stopped and started from it (and the gateway's answers meanwhile), a consignment
 * Create's trace as a waterfall across its four services, the API explorer calling
 * VesselService.FindAvailable, and a parked outbox event retried. Each page is
 * checked with axe-core and photographed at 1280 and 360 px (docs/images/dashboard-*.png).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, before, describe, test } from 'node:test';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import type { RunState } from '../../src/runner/state.ts';
import { BerthRun, berth, rpc } from '../runner/berth-run.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { launchChromium, openDashboard, photograph as photographPage } from './support/browser.ts';

const cleanup = fileCleanup();
let run: BerthRun;
let state: RunState;
let browser: Browser;
let page: Page;
/** Errors the page threw, checked after each test (a throw in a listener would fail none). */
const pageErrors: Error[] = [];

before(async () => {
  // NATS_URL empty: the direct broker, whatever the environment of the tests says.
  run = await BerthRun.start({ target: 'examples/shippy', cleanup, env: { NO_COLOR: '1', NATS_URL: '' } });
  state = run.state();
  assert.ok(state.dashboard, 'state.json names the dashboard');
  assert.match(run.output, new RegExp(`dashboard +${state.dashboard.url}/#t=${state.dashboard.token}`));
  browser = await launchChromium(cleanup);
  // The page keeps the token for the tab and takes it out of the address bar.
  page = await openDashboard(browser, `${state.dashboard.url}/#t=${state.dashboard.token}`, pageErrors);
});

afterEach(() => {
  assert.deepEqual(pageErrors.splice(0), [], 'errors thrown in the page');
});

const photograph = (name: string) => photographPage(page, name);

const stateOf = (instance: string) => page.locator(`tr[data-instance="${instance}"] .state`);

async function waitForState(instance: string, label: string): Promise<void> {
  await stateOf(instance)
    .filter({ hasText: new RegExp(`^${label}$`) })
    .waitFor({ timeout: 60_000 });
}

/** A user's token, signed up through the gateway. */
async function signUp(): Promise<string> {
  const email = `dash-${randomBytes(4).toString('hex')}@example.com`;
  const created = await rpc(run.gateway, {
    service: 'user',
    method: 'UserService.Create',
    request: { name: 'Dash', company: 'shippy', email, password: 'correct horse' },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  return created.body.token as string;
}

describe('the dashboard of berth run', () => {
  test('Resources lists every instance, each Up', async () => {
    await page.getByRole('heading', { name: 'Resources', level: 1 }).waitFor();
    for (const process of state.processes) await waitForState(process.instance, 'Up');
    const listed = await page
      .locator('tr[data-instance]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-instance')));
    // And the broker: the direct one here (no NATS_URL), which is no process.
    assert.deepEqual(
      listed.sort(),
      [...state.processes.map((process) => process.instance), 'broker (direct)'].sort(),
    );
    await waitForState('broker (direct)', 'No process');
    await page.locator('tr[data-instance="vessel-1"] .checks').getByText('database').waitFor();
    await photograph('resources');
  });

  test('Stop vessel makes it Down and its calls 503; Start makes it Up again', async () => {
    const list = { service: 'vessel', method: 'VesselService.List', request: {} };
    await page.getByRole('button', { name: 'Stop vessel', exact: true }).click();
    await waitForState('vessel-1', 'Down');
    assert.equal((await rpc(run.gateway, list)).status, 503);
    await page.getByRole('button', { name: 'Start vessel', exact: true }).click();
    await waitForState('vessel-1', 'Up');
    assert.equal((await rpc(run.gateway, list)).status, 200);
  });

  test("a consignment Create's trace is one waterfall across gateway, consignment, vessel and user", async () => {
    const token = await signUp();
    // Consignment finds the restarted vessel through its registry cache, a scan after the gateway did.
    const traceId = await waitFor(
      async () => {
        const id = randomBytes(16).toString('hex');
        const created = await rpc(
          run.gateway,
          {
            service: 'consignment',
            method: 'ConsignmentService.Create',
            request: {
              description: 'tea',
              weight: 1000,
              containers: [{ customer_id: 'c1', origin: 'Shanghai' }],
            },
          },
          { authorization: `Bearer ${token}`, traceparent: `00-${id}-${randomBytes(8).toString('hex')}-01` },
        );
        if (created.status !== 503) assert.equal(created.status, 200, JSON.stringify(created.body));
        return created.status === 200 && id;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'a consignment Create that reaches vessel' },
    );
    await page.goto(`${state.dashboard!.url}/#traces`);
    // Its own row: other Creates (an earlier test's, a retried one) may be listed above it.
    await page
      .getByRole('link', { name: 'ConsignmentService.Create' })
      .and(page.locator(`a[href="#trace/${traceId}"]`))
      .click({ timeout: 30_000 });
    assert.equal(new URL(page.url()).hash, `#trace/${traceId}`);
    // Each service exports in its own batches: wait until all four have arrived.
    await waitFor(
      async () => {
        const services = await page
          .locator('.waterfall .span')
          .evaluateAll((spans) => spans.map((span) => span.getAttribute('data-service')));
        return ['gateway', 'consignment', 'vessel', 'user'].every((service) => services.includes(service));
      },
      { timeoutMs: 30_000, what: 'spans of gateway, consignment, vessel and user in the waterfall' },
    );
    await page
      .getByRole('button', { name: /^vessel .*Reserve/ })
      .first()
      .click();
    await page
      .getByRole('region', { name: /Attributes of .*Reserve/ })
      .getByText('rpc.method')
      .waitFor();
    await photograph('trace');
    await page.getByRole('link', { name: '← all traces' }).click();
    await page.getByRole('cell', { name: 'gateway, consignment, user, vessel' }).first().waitFor();
    await photograph('traces');
  });

  test('the API explorer calls VesselService.FindAvailable and shows the answer and its trace', async () => {
    await page.goto(`${state.dashboard!.url}/#api`);
    const method = page.getByLabel('Method');
    await method.locator('option', { hasText: 'VesselService.FindAvailable' }).waitFor({ state: 'attached' });
    await method.selectOption({ label: 'VesselService.FindAvailable' });
    const request = page.getByLabel('Request (JSON)');
    assert.deepEqual(JSON.parse(await request.inputValue()), { capacity: 0, max_weight: 0 });
    await request.fill(JSON.stringify({ capacity: 1, max_weight: 500 }));
    await page.getByRole('button', { name: 'Call' }).click();
    const answer = page.getByRole('region', { name: 'Answer' });
    await answer.getByText('HTTP 200').waitFor();
    await answer.getByText("Kane's Salty Secret").waitFor();
    await photograph('api');
    await answer.getByRole('link', { name: 'view its trace' }).click();
    await page.locator('.waterfall .span[data-service="vessel"]').first().waitFor({ timeout: 30_000 });
  });

  test('Logs shows every service live; a line with a trace links to it', async () => {
    await page.goto(`${state.dashboard!.url}/#logs`);
    await page.locator('.log-lines .log').first().waitFor();
    await page.getByLabel('Service').selectOption('vessel');
    await page.locator('.log-lines .log .instance', { hasText: 'vessel-1' }).first().waitFor();
    const others = await page
      .locator('.log-lines .log .instance')
      .evaluateAll((cells) => cells.map((cell) => cell.textContent).filter((text) => text !== 'vessel-1'));
    assert.deepEqual(others, []);
    await photograph('logs');
    // Lines logged inside a request carry its trace id (src/log/logger.ts): they link to the trace.
    await page.getByLabel('Service').selectOption('');
    const link = page.locator('.log-lines a.trace-link').first();
    const href = await link.getAttribute('href', { timeout: 10_000 });
    await link.click();
    await page.getByRole('heading', { name: 'Trace', level: 1 }).waitFor();
    assert.equal(new URL(page.url()).hash, href);
    await page.locator('.waterfall .span').first().waitFor({ timeout: 30_000 });
    // And back: the trace's "logs of this trace" is the Logs page filtered by its id.
    const traceId = href!.slice('#trace/'.length);
    await page.getByRole('link', { name: 'logs of this trace' }).click();
    await page.getByRole('heading', { name: 'Logs', level: 1 }).waitFor();
    assert.equal(await page.getByLabel('Trace', { exact: true }).inputValue(), traceId);
    await page.locator('.log-lines .log').first().waitFor();
    const links = await page
      .locator('.log-lines .log')
      .evaluateAll((lines) => lines.map((line) => line.querySelector('a.trace-link')?.getAttribute('href')));
    assert.deepEqual([...new Set(links)], [href]);
  });

  test('Metrics shows the calls per service and method', async () => {
    await page.goto(`${state.dashboard!.url}/#metrics`);
    // Measured by vessel and by the gateway that forwarded the calls: a row each.
    const findAvailable = page.locator('tr', { has: page.getByRole('rowheader', { name: 'FindAvailable' }) });
    for (const at of ['service', 'gateway']) {
      await findAvailable.filter({ has: page.getByRole('cell', { name: at, exact: true }) }).waitFor();
    }
    // The second scrape (5 s on) opens a window: its length is shown.
    await page.getByText(/^Window: the last \d+\.\d s\.$/).waitFor({ timeout: 15_000 });
    await photograph('metrics');
  });

  test('a parked event is shown with its error, and Retry sends it to the relay again', async () => {
    // What outbox.ts parks: an event no retry can publish (over the direct broker's 1 MiB).
    const db = new pg.Client({ connectionString: state.databaseUrl });
    await db.connect();
    cleanup(() => db.end());
    const id = `parked-${randomBytes(4).toString('hex')}`;
    await db.query(
      `INSERT INTO "user".berth_outbox (id, topic, data) VALUES ($1, 'user.created', $2::jsonb)`,
      [id, JSON.stringify({ padding: 'x'.repeat(1024 * 1024 + 1) })],
    );
    const attempts = async () =>
      (await db.query<{ attempts: number }>(`SELECT attempts FROM "user".berth_outbox WHERE id = $1`, [id]))
        .rows[0]!.attempts;
    await page.goto(`${state.dashboard!.url}/#events`);
    const row = page.locator(`tr[data-event="${id}"]`);
    await row.getByText(/larger than 1048576 bytes/).waitFor({ timeout: 30_000 });
    assert.equal(await attempts(), 1);
    await photograph('events');
    await page.getByRole('button', { name: `Retry event ${id}` }).click();
    // The relay took it again and, as it still cannot be published, parked it again.
    await waitFor(async () => (await attempts()) === 2, { timeoutMs: 30_000, what: 'a second attempt' });
    await row.locator('td.num', { hasText: /^2$/ }).waitFor({ timeout: 10_000 });
  });

  test("the pages run under the CSP (default-src 'self') without a violation", async () => {
    const strict = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      const violations: string[] = [];
      strict.on('console', (message) => {
        if (/Content Security Policy/.test(message.text())) violations.push(message.text());
      });
      strict.on('pageerror', (error) => pageErrors.push(error));
      // Without the token (a new tab, no printed URL): the status line says where the URL is.
      await strict.goto(`${state.dashboard!.url}/`);
      await strict
        .getByRole('status')
        .getByText(/URL that berth run printed/)
        .waitFor();
      // The printed URL pasted into that tab.
      await strict.goto(`${state.dashboard!.url}/#t=${state.dashboard!.token}`);
      await strict.locator('tr[data-instance="gateway"]').waitFor();
      assert.equal(new URL(strict.url()).hash, '#resources');
      // A route named like an Object member is no page: Resources, not an error.
      await strict.goto(`${state.dashboard!.url}/#constructor`);
      await strict.getByRole('heading', { name: 'Resources', level: 1 }).waitFor();
      const { traces } = (await (
        await fetch(`${state.dashboard!.url}/api/traces?limit=1`, {
          headers: { authorization: `Bearer ${state.dashboard!.token}` },
        })
      ).json()) as { traces: Array<{ traceId: string }> };
      await strict.goto(`${state.dashboard!.url}/#trace/${traces[0]!.traceId}`);
      const bar = strict.locator('.span-bar').first();
      await bar.waitFor();
      // The bars are placed by inline styles set through the CSSOM, which the CSP allows.
      assert.ok(((await bar.boundingBox())?.width ?? 0) > 0, 'the span bar has a width');
      assert.deepEqual(violations, []);
    } finally {
      await strict.close();
    }
  });

  test('in the terminal: berth traces prints them as a table, filtered by attribute too; berth list and berth logs still work', async () => {
    const env = { BERTH_DATA_DIR: run.dataDir, NO_COLOR: '1' };
    const traces = await berth(['traces', '--service', 'consignment', '-n', '3'], env);
    assert.equal(traces.code, 0, traces.stderr);
    const [header, ...rows] = traces.stdout.trimEnd().split('\n');
    assert.match(header!, /^STARTED +ROOT +DURATION +SPANS +ERRORS +SERVICES +TRACE$/);
    assert.ok(rows.length >= 1 && rows.length <= 3, traces.stdout);
    for (const row of rows)
      assert.match(row, /ConsignmentService\.Create .* gateway,consignment,user,vessel +[0-9a-f]{32}$/);
    const failed = await berth(['traces', '--errors'], env);
    assert.match(
      failed.stdout,
      /VesselService\.List .* 1 +gateway +[0-9a-f]{32}\n/,
      'the 503 while vessel was down',
    );
    // By attribute: the API explorer's FindAvailable (and the Creates that found a vessel through it).
    const found = await berth(['traces', '--attr', 'rpc.method=FindAvailable', '--attr', 'rpc.system'], env);
    assert.equal(found.code, 0, found.stderr);
    const foundRows = found.stdout.trimEnd().split('\n').slice(1);
    assert.ok(
      foundRows.some((row) => / VesselService\.FindAvailable /.test(row)),
      found.stdout,
    );
    for (const row of foundRows)
      assert.match(row, / (VesselService\.FindAvailable|ConsignmentService\.Create) /);
    const none = await berth(['traces', '--attr', 'rpc.method=NoSuchMethod'], env);
    assert.equal(none.stdout, 'no traces yet (or none matching)\n');
    const bad = await berth(['traces', '--attr', '=FindAvailable'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--attr: "=FindAvailable": empty key/);
    const list = await berth(['list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /vessel +vessel-\w+ +127\.0\.0\.1:\d+ .* ready/);
    const logs = await berth(['logs', 'vessel', '-n', '3'], env);
    assert.equal(logs.code, 0, logs.stderr);
    // In a pipe: the lines as written.
    assert.match(logs.stdout, /"msg":"serving"/);
  });
});
