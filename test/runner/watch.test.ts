/**
 * `berth run --watch` as a user runs it: the fixture system (fixtures/watch-greeter)
 * copied into a temporary folder, the real CLI, a steady load through the gateway
 * while greeter/handlers.ts is saved three times (the second save a syntax error);
 * then the static folder and a proto change. GreeterService.Greet is not idempotent,
 * so the gateway never retries a request a reload dropped: every failure would show.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeFailures, startLoad } from '../support/load.ts';
import { waitFor } from '../support/wait.ts';
import { BerthRun, repoRoot, rpc } from './berth-run.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'watch-greeter');

/** The fixture as a system of its own, with `berth` (and the generated code's runtime) installed beside it. */
function copySystem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-watch-'));
  cpSync(FIXTURE, dir, { recursive: true });
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repoRoot, join(dir, 'node_modules', 'berth'));
  symlinkSync(join(repoRoot, 'node_modules', '@bufbuild'), join(dir, 'node_modules', '@bufbuild'));
  return dir;
}

const greetBody = { service: 'greeter', method: 'GreeterService.Greet', request: { name: 'load' } };

async function greeting(gateway: string): Promise<string> {
  const answer = await rpc(gateway, greetBody);
  return answer.status === 200 ? String(answer.body.greeting) : `status ${answer.status}`;
}

/** handlers.ts answering `<version>: hello <name>`; `broken` adds a stray brace (a syntax error). */
function handler(version: string, broken = false): string {
  return `export function greet(name: string): string {\n  return '${version}: hello ' + name;${broken ? ' }' : ''}\n}\n`;
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern, 'g'))?.length ?? 0;
}

test('berth run --watch reloads a changed handler without a failed request, keeps serving through a bad save, regenerates a changed proto', async (t) => {
  const system = copySystem();
  t.after(() => rmSync(system, { recursive: true, force: true }));
  const run = await BerthRun.start({ target: system, args: ['--watch'], cleanup: (fn) => t.after(fn) });
  await run.waitForOutput(/watching .* for changes/);
  assert.equal(await greeting(run.gateway), 'v1: hello load');
  const firstPid = run.pids('greeter')[0];

  const load = startLoad({
    url: `${run.gateway}/rpc`,
    body: JSON.stringify(greetBody),
    concurrency: 4,
    maxDurationMs: 180_000,
  });
  t.after(() => load.stop());
  const handlers = join(system, 'greeter', 'handlers.ts');
  const reloaded = /greeter: reloaded in \d+\.\d s \(greeter\/handlers\.ts\)/;
  const rejected =
    /greeter: not reloaded after greeter\/handlers\.ts changed: the new greeter-1 exited before it was ready/;
  await load.answered(20);

  // A good save: the new code serves, the old process drained. A module saved with it
  // that no process loaded is not in the reload line (the processes' module lists).
  writeFileSync(join(system, 'scratch.ts'), 'export const unused = 1;\n');
  writeFileSync(handlers, handler('v2'));
  await waitFor(async () => (await greeting(run.gateway)) === 'v2: hello load', {
    timeoutMs: 60_000,
    intervalMs: 50,
    what: 'the v2 greeting',
  });
  await run.waitForOutput(reloaded);
  await load.answered(20);

  // A syntax error: the new process dies before it is ready; v2 keeps serving, and the error is shown.
  writeFileSync(handlers, handler('v3', true));
  await run.waitForOutput(rejected, 60_000);
  assert.match(run.output, /SyntaxError/, 'the child’s own error is in the output');
  await load.answered(20);
  assert.equal(await greeting(run.gateway), 'v2: hello load');

  // The next good save replaces it.
  writeFileSync(handlers, handler('v3'));
  await waitFor(async () => (await greeting(run.gateway)) === 'v3: hello load', {
    timeoutMs: 60_000,
    intervalMs: 50,
    what: 'the v3 greeting',
  });
  await waitFor(() => count(run.output, reloaded) === 2, { timeoutMs: 30_000, what: 'a second reload line' });
  await load.answered(20);
  await load.stop();

  const failures = load.failures();
  assert.equal(failures.length, 0, `failed requests:\n${describeFailures(failures)}`);
  const greetings = new Set(load.outcomes.map((outcome) => JSON.parse(outcome.body).greeting));
  assert.deepEqual([...greetings].sort(), ['v1: hello load', 'v2: hello load', 'v3: hello load']);
  assert.equal(count(run.output, rejected), 1, 'the bad save is reported once, not retried');

  // The state file follows the new process: its pid, the reload count, no crash restarts.
  const greeter = run.state().processes.find((process) => process.instance === 'greeter-1')!;
  assert.equal(greeter.status, 'ready');
  assert.notEqual(greeter.pid, firstPid);
  assert.deepEqual([greeter.reloads, greeter.restarts], [2, 0]);
  assert.equal(run.pids('greeter').length, 1, 'the old processes are gone');

  // The gateway's static folder is read from disk on each request; dotfiles stay private.
  const page = () => fetch(`${run.gateway}/`).then((response) => response.text());
  assert.match(await page(), /page v1/);
  writeFileSync(join(system, 'web', 'index.html'), '<!doctype html><title>watched</title><p>page v2</p>');
  assert.match(await page(), /page v2/);
  const secret = await fetch(`${run.gateway}/.secret`);
  assert.doesNotMatch(await secret.text(), /not for the web/);

  // A changed proto: its code is generated first, and the generated module reloads the service.
  const proto = join(system, 'proto', 'watched', 'v1', 'greeter.proto');
  writeFileSync(
    proto,
    readFileSync(proto, 'utf8').replace('string greeting = 1;', 'string greeting = 1;\n  string note = 2;'),
  );
  await run.waitForOutput(/greeter: reloaded in \d+\.\d s \(gen\/watched\/v1\/greeter_pb\.js\)/, 60_000);
  assert.match(run.output, /proto\/watched\/v1\/greeter\.proto changed: berth generate/);
  assert.match(readFileSync(join(system, 'gen', 'watched', 'v1', 'greeter_pb.d.ts'), 'utf8'), /note: string/);
  assert.equal(await greeting(run.gateway), 'v3: hello load');

  assert.deepEqual(await run.stop(), { code: 0, signal: null });
});
