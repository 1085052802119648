/**
 * What the dashboard's browser tests share: Debian's Chromium driven by
 * playwright-core, a tab opened on the printed URL (`/#t=<token>`), and each
 * page state checked with axe-core and photographed at 1280 and 360 px.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { assertAccessible } from '../../../examples/shippy/ui/test/browser.ts';
import { repoRoot } from '../../runner/berth-run.ts';
import type { Cleanup } from '../../support/cleanup.ts';

/** `DASHBOARD_SCREENSHOTS=docs/images` renews the docs' pictures; by default they go to the temp dir. */
const images = resolve(
  repoRoot,
  process.env.DASHBOARD_SCREENSHOTS ?? join(tmpdir(), 'berth-dashboard-screenshots'),
);

export async function launchChromium(cleanup: Cleanup): Promise<Browser> {
  await mkdir(images, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  cleanup(() => browser.close());
  return browser;
}

/**
 * A tab on `pageUrl` (the dashboard's printed URL), once the page has kept the token
 * and taken it out of the address bar. Errors the page throws go to `pageErrors`
 * (a throw in a listener would fail no test: check it after each).
 */
export async function openDashboard(browser: Browser, pageUrl: string, pageErrors: Error[]): Promise<Page> {
  // axe-core is injected as an inline script, which the dashboard's CSP (rightly) refuses;
  // dashboard-browser.test.ts checks that the pages themselves need no exception.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error));
  await page.goto(pageUrl);
  await page.getByRole('heading', { name: 'Resources', level: 1 }).waitFor();
  assert.equal(new URL(page.url()).hash, '#resources');
  return page;
}

/** axe-core and a full-page screenshot (dashboard-<name>-<width>.png) at each width, then back to 1280 px. */
export async function photograph(page: Page, name: string): Promise<void> {
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: 800 });
    await assertAccessible(page, `${name} at ${width} px`);
    await page.screenshot({ path: join(images, `dashboard-${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}
