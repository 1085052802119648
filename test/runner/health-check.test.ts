/**
 * A supervised process that is alive but no longer answers (wedged in a busy loop,
 * or stopped) never exits, so only its health check can get it restarted. And the
 * embedded Postgres's check must see a wedge that a TCP connect cannot.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { LogOutput } from '../../src/runner/log-output.ts';
import { answersHealthz, answersPostgres, httpProbe } from '../../src/runner/readiness.ts';
import { SupervisedProcess } from '../../src/runner/supervised-process.ts';
import { waitFor } from '../support/wait.ts';
import { freePort, repoRoot } from './berth-run.ts';

test('a ready process that stops answering its health check is restarted, and the runner says why', async (t) => {
  const logsDir = await mkdtemp(join(tmpdir(), 'berth-health-test-'));
  t.after(() => rm(logsDir, { recursive: true, force: true }));
  const log = new LogOutput({
    out: new Writable({ write: (_chunk, _encoding, done) => done() }),
    pretty: false,
    logsDir,
  });
  t.after(() => log.close());
  const notes: string[] = [];
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  let checks = 0;
  const supervised = new SupervisedProcess(
    {
      instance: 'answering-1',
      service: 'answering',
      kind: 'service',
      command: process.execPath,
      args: [join(repoRoot, 'test/runner/fixtures/answering.ts')],
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', PORT: String(port) },
      probe: httpProbe(address),
      health: (at) => {
        checks += 1;
        return answersHealthz(at);
      },
    },
    {
      log: log.instance('answering-1'),
      note: (message) => notes.push(message),
      changed: () => {},
      backoff: { initialMs: 100, maxMs: 100, resetAfterMs: 60_000 },
      health: { intervalMs: 50, failures: 3 },
      readyTimeoutMs: 30_000,
      graceMs: 200,
    },
  );
  t.after(() => supervised.stop());
  await supervised.start();
  const first = supervised.state.pid!;
  // Healthy: checked again and again, never restarted.
  await waitFor(() => checks >= 5, { timeoutMs: 30_000, what: 'five health checks' });
  assert.equal(notes.length, 0, notes.join('\n'));

  // Alive but answering nothing; SIGTERM stays pending on a stopped process, SIGKILL ends it.
  process.kill(first, 'SIGSTOP');
  await waitFor(() => notes.some((note) => note.includes('is ready again')), {
    timeoutMs: 60_000,
    what: 'the stopped process to be replaced',
  });
  assert.deepEqual(notes.slice(0, 2), [
    'answering-1 is not answering its health check (3 checks in a row); stopping it to restart it',
    'answering-1 exited (signal SIGKILL, stopped for not answering its health check); restarting in 0.1 s (restart 1)',
  ]);
  assert.match(notes[2]!, new RegExp(`^answering-1 is ready again at ${address}$`));
  const state = supervised.state;
  assert.equal(state.status, 'ready');
  assert.equal(state.restarts, 1);
  assert.notEqual(state.pid, first);
});

test('the embedded Postgres check needs an answer to the protocol, not only an accepted connection', async (t) => {
  // Accepts connections and reads nothing, as a wedged wire server does (the kernel accepts for it).
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => silent.close(resolve));
  });
  const port = (silent.address() as { port: number }).port;
  assert.equal(await answersPostgres('127.0.0.1', port, 300), false);
  assert.equal(sockets.size, 1, 'the connection itself was accepted');

  const answering = createServer((socket) => socket.once('data', () => socket.write('N')));
  await new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => answering.close(resolve)));
  assert.equal(await answersPostgres('127.0.0.1', (answering.address() as { port: number }).port), true);
});
