/**
 * The gateway as a process: `berth gateway` in the foreground, and
 * src/gateway/main.ts as `berth run` spawns it, configured by environment.
 * Each answers /healthz, routes a call to a greeter process, and exits 0 on SIGTERM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { before, test } from 'node:test';
import { fileCleanup } from '../support/cleanup.ts';
import { repoRoot, startGreeter, tempRegistry } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';
import { cliEnv, cliMain, runCli } from './run-cli.ts';

let dir: string;
const cleanup = fileCleanup();

before(async () => {
  const temp = await tempRegistry(cleanup);
  dir = temp.dir;
  await startGreeter(dir, cleanup);
});

/** Spawns a long-running process, killed at the end of the file if a test left it running. */
function start(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: cliEnv(dir, env) });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => output };
}

/** Checks the gateway at `url` answers and routes, then stops it with SIGTERM: exit code 0. */
async function exerciseAndStop(child: ChildProcess, url: string): Promise<void> {
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok', service: 'gateway' });
  const call = await runCli(dir, ['call', 'greeter', 'Say.Hello', '{"name": "Gus"}', '--via-gateway', url]);
  assert.equal(call.code, 0, call.stderr);
  assert.equal(JSON.parse(call.stdout).greeting, 'Hello Gus');
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null]);
}

test('berth gateway serves until SIGTERM, then exits 0', async () => {
  const gateway = start([cliMain, 'gateway', '--port', '0', '--known-services', 'greeter,vessel'], {});
  const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(gateway.output())?.[1], {
    timeoutMs: 15_000,
    what: `the gateway to listen; output so far:\n${gateway.output()}`,
  });
  // --known-services reaches the gateway: it reports each declared service, running or not.
  const ready = await fetch(`${url}/readyz`);
  assert.deepEqual((await ready.json()).services, [
    { name: 'greeter', instances: 1 },
    { name: 'vessel', instances: 0 },
  ]);
  await exerciseAndStop(gateway.child, url);
});

test('berth gateway rejects a bad flag as a usage error', async () => {
  const result = await runCli(dir, ['gateway', '--port', '80000']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--port: expected a port number \(0-65535\), got "80000"/);
});

test('src/gateway/main.ts is configured by environment variables', async () => {
  const gateway = start([resolve(repoRoot, 'src/gateway/main.ts')], {
    BERTH_GATEWAY_PORT: '0',
    LOG_FORMAT: 'json',
  });
  const url = await waitFor(
    () => {
      const line = gateway
        .output()
        .split('\n')
        .find((entry) => entry.includes('"gateway listening"'));
      return line && `http://${(JSON.parse(line) as { address: string }).address}`;
    },
    { timeoutMs: 15_000, what: 'the gateway to listen' },
  );
  await exerciseAndStop(gateway.child, url);

  const bad = start([resolve(repoRoot, 'src/gateway/main.ts')], { BERTH_BODY_LIMIT: 'lots' });
  assert.deepEqual(await once(bad.child, 'exit'), [1, null]);
  assert.match(bad.output(), /BERTH_BODY_LIMIT: expected a positive number of bytes, got \\"lots\\"/);
});
