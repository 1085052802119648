/**
 * What every browser test of the shippy UI needs: the real system, started the way
 * `npm start` starts it (the UI built into ui/dist, then `berth run examples/shippy`
 * with embedded Postgres, gateway and every service, on a free port with a temp data
 * dir), Debian's Chromium driven by playwright-core, and the checks each page state
 * gets: axe-core with no violations and screenshots at 360 and 1280 px.
 *
 * Controls are found by role and accessible name, as a person or a screen reader
 * finds them; keyboard steps press real keys and say where focus must be after each.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { before } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { build } from 'vite';
import { fileCleanup } from '../../../../test/support/cleanup.ts';
import { ServiceProcess } from '../../../../test/support/processes.ts';
import { waitFor } from '../../../../test/support/wait.ts';

const uiRoot = resolve(import.meta.dirname, '..');
const repoRoot = resolve(uiRoot, '../../..');
/** Screenshots to look at; a fixed folder under the temp dir so a person can find them. */
export const screenshots = process.env.SHIPPY_SCREENSHOTS ?? join(tmpdir(), 'shippy-ui-screenshots');
const widths = [360, 1280];
/** Cold start of PGlite and four services on a busy 2-core machine. */
export const startTimeoutMs = 120_000;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface Shippy {
  /** `http://127.0.0.1:<port>`, the gateway. */
  readonly base: string;
  readonly runner: ServiceProcess;
  readonly browser: Browser;
  /** A fresh browser profile; its pages share localStorage as a person's tabs do. */
  readonly context: BrowserContext;
}

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

export interface ListedService {
  name: string;
  instances: Array<{ id: string; metadata: { pid?: string } }>;
}

export async function listServices(base: string): Promise<ListedService[]> {
  return ((await (await fetch(`${base}/_berth/services`)).json()) as { services: ListedService[] }).services;
}

/** The pid of the one instance of `service`, as it registered itself. */
export async function servicePid(base: string, service: string): Promise<number> {
  const listed = (await listServices(base)).find(({ name }) => name === service);
  const pid = Number(listed?.instances[0]?.metadata.pid);
  assert.ok(pid > 0, `no ${service} instance with a pid in ${JSON.stringify(listed)}`);
  return pid;
}

/** The gateway's pid: the runner's child running src/gateway/main.ts (it registers no instance). */
export function gatewayPid(runner: ServiceProcess): number {
  const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(runner.pid)], {
    encoding: 'utf8',
  });
  const line = children.split('\n').find((entry) => entry.includes('gateway/main.ts'));
  assert.ok(line, `no gateway among the runner's children:\n${children}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/**
 * Starts shippy and Chromium before this file's tests, stops both after them. The
 * fields are filled in once `before` has run.
 */
export function startShippy(): Shippy {
  const cleanup = fileCleanup();
  const shippy = {} as { -readonly [K in keyof Shippy]: Shippy[K] };
  before(async () => {
    // What the gateway serves is what this checkout's UI source builds to.
    await build({ root: uiRoot, logLevel: 'warn' });
    await mkdir(screenshots, { recursive: true });

    const dataDir = await mkdtemp(join(tmpdir(), 'shippy-ui-'));
    cleanup(() => rm(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    shippy.base = `http://127.0.0.1:${port}`;
    const env: Record<string, string | undefined> = {
      ...process.env,
      BERTH_DATA_DIR: dataDir,
      NO_COLOR: '1',
    };
    // Set by `node --test` for its own children; the runner is not one of them.
    delete env.NODE_TEST_CONTEXT;
    const runner = new ServiceProcess(
      spawn(process.execPath, ['src/cli/main.ts', 'run', 'examples/shippy', '--port', String(port)], {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    shippy.runner = runner;
    // SIGTERM lets the runner stop its children in order; it is the only way they all go.
    cleanup(() => runner.stop('SIGTERM', 30_000));

    await waitFor(
      async () => {
        if (!runner.running) throw new Error('berth run exited');
        if ((await fetch(`${shippy.base}/readyz`)).status !== 200) return false;
        const services = await listServices(shippy.base);
        return services.length > 0 && services.every((service) => service.instances.length > 0);
      },
      { timeoutMs: startTimeoutMs, intervalMs: 250, what: 'the gateway and every shippy service' },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- berth run output ---\n${runner.output}`);
    });

    shippy.browser = await chromium.launch({
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
    cleanup(() => shippy.browser.close());
    shippy.context = await shippy.browser.newContext({ viewport: { width: 1280, height: 800 } });
  });
  return shippy;
}

/** The page's title: each page has one h1. */
export function heading(page: Page, name: string): Locator {
  return page.getByRole('heading', { name, level: 1 });
}

/** What has focus, said the way a failure message can show it. */
function describeFocus(page: Page): Promise<string> {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (!element || element === document.body) return '<body>';
    const name = element.getAttribute('aria-label') ?? element.textContent?.slice(0, 60) ?? '';
    return `<${element.tagName.toLowerCase()}${element.id ? ` id="${element.id}"` : ''}> ${name}`;
  });
}

/** Fails unless `locator` is the focused element. */
export async function assertFocused(page: Page, locator: Locator, what: string): Promise<void> {
  const focused = await locator.evaluate((element) => element === document.activeElement).catch(() => false);
  assert.ok(focused, `focus should be on ${what}, but is on ${await describeFocus(page)}`);
}

/** Presses `key` (Tab, Shift+Tab) until `locator` has focus; at most 40 presses. */
export async function tabTo(page: Page, locator: Locator, what: string, key = 'Tab'): Promise<void> {
  for (let press = 0; press < 40; press++) {
    if (await locator.evaluate((element) => element === document.activeElement).catch(() => false)) return;
    await page.keyboard.press(key);
  }
  await assertFocused(page, locator, what);
}

/**
 * The contrast of the focused element's outline against what is around it (the
 * nearest ancestor with an opaque background: the ring sits outside the element).
 */
export async function focusRingContrast(page: Page): Promise<number> {
  return page.evaluate(() => {
    const element = document.activeElement as HTMLElement;
    const style = getComputedStyle(element);
    if (style.outlineStyle === 'none' || Number.parseFloat(style.outlineWidth) < 2) return 0;
    const rgb = (color: string) => (color.match(/[\d.]+/g) ?? []).map(Number);
    let around = element.parentElement;
    while (around && rgb(getComputedStyle(around).backgroundColor)[3] === 0) around = around.parentElement;
    const background = rgb(around ? getComputedStyle(around).backgroundColor : 'rgb(255,255,255)');
    const luminance = ([r, g, b]: number[]) => {
      const [lr, lg, lb] = [r!, g!, b!].map((channel) => {
        const c = channel / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * lr! + 0.7152 * lg! + 0.0722 * lb!;
    };
    const [light, dark] = [luminance(rgb(style.outlineColor)), luminance(background)].sort((a, b) => b - a);
    return (light! + 0.05) / (dark! + 0.05);
  });
}

/** The focused element shows a ring of at least 3:1 against its surroundings. */
export async function assertVisibleFocus(page: Page): Promise<void> {
  const contrast = await focusRingContrast(page);
  assert.ok(contrast >= 3, `focus ring contrast ${contrast.toFixed(2)}:1 on ${await describeFocus(page)}`);
}

/** axe-core on the page as it is now: no violations, each one named if there are. */
export async function assertAccessible(page: Page, state: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const { violations } = await (
      window as unknown as {
        axe: {
          run: (context: Document) => Promise<{
            violations: Array<{ id: string; help: string; nodes: Array<{ target: unknown }> }>;
          }>;
        };
      }
    ).axe.run(document);
    return violations.map(
      ({ id, help, nodes }) => `${id} (${help}): ${JSON.stringify(nodes.map((node) => node.target))}`,
    );
  });
  assert.deepEqual(violations, [], `axe-core violations in state "${state}"`);
}

/**
 * One state of a page: axe-core at 360 and 1280 px (the layouts differ) and a
 * full-page screenshot at each, then back to the width the page had.
 */
export async function checkState(page: Page, name: string): Promise<void> {
  const viewport = page.viewportSize() ?? { width: 1280, height: 800 };
  for (const width of widths) {
    await page.setViewportSize({ width, height: 800 });
    await assertAccessible(page, `${name} at ${width} px`);
    await page.screenshot({ path: join(screenshots, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(viewport);
}

/** Is all of `locator` inside the viewport (nothing to scroll to see it)? */
export async function inView(page: Page, locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const viewport = page.viewportSize();
  return !!box && !!viewport && box.y >= 0 && box.y + box.height <= viewport.height;
}

export interface TestUser {
  readonly name: string;
  readonly company: string;
  readonly email: string;
  readonly password: string;
}

/** Registers `user` through the page, which signs them in on the Consignments page. */
export async function register(page: Page, base: string, user: TestUser): Promise<void> {
  await page.goto(`${base}/register`);
  await heading(page, 'Create an account').waitFor();
  await page.getByLabel('Name').fill(user.name);
  await page.getByLabel('Company').fill(user.company);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await heading(page, 'Consignments').waitFor();
}

/** The token of the session the page keeps. */
export async function sessionToken(page: Page): Promise<string> {
  const stored = await page.evaluate(() => localStorage.getItem('shippy.session'));
  const token = (JSON.parse(stored ?? 'null') as { token?: string } | null)?.token;
  assert.ok(token, `no session in localStorage: ${stored}`);
  return token;
}

/** Calls a method as a script would (`POST /rpc`): the HTTP status and the answer. */
export async function rpc(
  base: string,
  service: string,
  method: string,
  request: object,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ service, method, request }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
