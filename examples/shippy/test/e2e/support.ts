/**
 * What shippy's end-to-end files share: starting shippy (`berth run
 * examples/shippy`, ready, stopped and removed by the file's cleanup), calls
 * through the gateway's `POST /rpc` and what they check, sign-ups, the outbox.
 * Each file starts a shippy of its own; against real PostgreSQL (DATABASE_URL)
 * they share one database, so whatever they name is made unique by `runId`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthRun, type BerthRunOptions, isAlive, rpc } from '../../../../test/runner/berth-run.ts';
import type { Cleanup } from '../../../../test/support/cleanup.ts';

export const backends = [
  process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite',
  process.env.NATS_URL ? 'NATS JetStream' : 'direct broker',
].join(' + ');
/** Unique per test file run: a real database keeps the users of earlier runs and other files. */
export const runId = randomBytes(4).toString('hex');
export const password = 'correct horse battery';
export const threeContainers = Array.from({ length: 3 }, (_, i) => ({
  customer_id: `customer-${i}`,
  origin: 'Rotterdam',
  user_id: `customer-${i}`,
}));

export type Rpc = Awaited<ReturnType<typeof rpc>>;

/** `berth run examples/shippy`, ready; `more` restarts it (`dataDir`) or picks an environment (`args`). */
export const startShippy = (
  cleanup: Cleanup,
  more: Pick<BerthRunOptions, 'args' | 'dataDir'> = {},
): Promise<BerthRun> =>
  BerthRun.start({ target: 'examples/shippy', cleanup, readyTimeoutMs: 180_000, ...more });

export const call = (run: BerthRun, service: string, method: string, request: unknown, token?: string) =>
  rpc(
    run.gateway,
    { service, method, request },
    token === undefined ? {} : { authorization: `Bearer ${token}` },
  );

export function ok(response: Rpc): Record<string, unknown> {
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

/** A clear client error: 4xx, micro's error shape, a message, no stack trace. */
export function assertClientError(response: Rpc, status: number | 'any 4xx', what: string): void {
  const { body } = response;
  if (status === 'any 4xx')
    assert.ok(response.status >= 400 && response.status < 500, `${what}: ${response.status}`);
  else assert.equal(response.status, status, `${what}: ${JSON.stringify(body)}`);
  assert.equal(body.code, response.status, `${what}: ${JSON.stringify(body)}`);
  assert.equal(typeof body.detail, 'string', what);
  assert.ok((body.detail as string).length > 0, what);
  assert.doesNotMatch(body.detail as string, /\n\s+at /, `${what}: a stack trace`);
}

export const emailOf = (n: number) => `e2e-${runId}-u${String(n).padStart(3, '0')}@shippy.test`;

/** Signs up user number `n` (as `emailOf(n)`): its email and the token Create gave. */
export async function signUp(run: BerthRun, n: number): Promise<{ email: string; token: string }> {
  const email = emailOf(n);
  const body = ok(
    await call(run, 'user', 'UserService.Create', {
      name: `User ${n}`,
      company: 'Shippy E2E',
      email,
      password,
    }),
  );
  assert.equal(typeof body.token, 'string');
  assert.equal((body.user as Record<string, unknown>).password ?? '', '', 'the password is never returned');
  return { email, token: body.token as string };
}

/** How many welcome mails (.eml) in the outbox are addressed to `email`. */
export function mailsTo(dataDir: string, email: string): number {
  let files: string[];
  try {
    files = readdirSync(join(dataDir, 'email', 'outbox')).filter((name) => name.endsWith('.eml'));
  } catch {
    return 0;
  }
  return files.filter((file) =>
    /^To: .*$/m.exec(readFileSync(join(dataDir, 'email', 'outbox', file), 'utf8'))?.[0].includes(email),
  ).length;
}

/** Ctrl-C, as a person would: the runner exits 0 and no process it listed outlives it. */
export async function assertCtrlCStopsEverything(run: BerthRun): Promise<void> {
  const pids = run.state().processes.flatMap((p) => p.pid ?? []);
  assert.deepEqual(await run.stop('SIGINT'), { code: 0, signal: null });
  assert.deepEqual(pids.filter(isAlive), []);
}
