/**
 * The broker's row on the Resources page (src/dashboard/broker-resource.ts), through
 * the runner's side of the dashboard (src/runner/run-dashboard.ts) and its HTTP API:
 * a real nats-server named by the services' NATS_URL is Up with its version, the
 * same URL once the server is gone is unreachable with the reason, and a run
 * without NATS shows the direct broker, which has no process.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSystemFile } from '../../src/config/system-file.ts';
import type { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import type { Plan } from '../../src/runner/plan.ts';
import { startRunDashboard } from '../../src/runner/run-dashboard.ts';
import { startNatsServer } from '../broker/nats-server.ts';

const system = loadSystemFile(join(import.meta.dirname, '../runner/fixtures'));
const dashboards: Dashboard[] = [];
after(() => Promise.all(dashboards.map((dashboard) => dashboard.close())));

/** A plan as planSystem makes it, reduced to what the dashboard reads: one service's environment. */
function planWith(env: Record<string, string>): Plan {
  return {
    registryDir: '/nonexistent',
    logsDir: '/nonexistent',
    gatewayPort: 0,
    units: [
      {
        name: 'email',
        kind: 'service',
        deps: [],
        processes: [{ instance: 'email-1', command: 'node', args: [], cwd: '/', env }],
      },
    ],
    selected: ['email'],
    database: 'none',
    pglitePort: undefined,
    embeddedDatabaseUrl: undefined,
  };
}

interface Row {
  instance: string;
  kind: string;
  status: string;
  address?: string;
  readiness: { ready: boolean; checks: Record<string, string> };
}

async function brokerRow(plan: Plan): Promise<Row> {
  const dashboard = await startRunDashboard({
    system,
    env: {},
    port: undefined,
    processes: () => [],
    stopUnits: async () => {},
    startUnits: async () => {},
    gateway: () => undefined,
    plan: () => plan,
  });
  dashboards.push(dashboard);
  const answer = await fetch(`${dashboard.url}/api/resources`, {
    headers: { authorization: `Bearer ${dashboard.token}` },
  });
  assert.equal(answer.status, 200);
  const { processes } = (await answer.json()) as { processes: Row[] };
  const brokers = processes.filter((row) => row.kind === 'nats' || row.kind === 'broker');
  assert.equal(brokers.length, 1, JSON.stringify(processes));
  return brokers[0]!;
}

test('NATS_URL names a running nats-server: a "nats" row, Up, with its address and version; then unreachable', async () => {
  const nats = await startNatsServer();
  const address = new URL(nats.url).host;
  // Credentials in the URL are the user's secret: the row shows host:port only.
  const plan = planWith({ NATS_URL: `nats://someone:secret@${address}` });
  try {
    const up = await brokerRow(plan);
    assert.equal(up.instance, 'nats');
    assert.equal(up.status, 'ready');
    assert.equal(up.address, address);
    assert.match(up.readiness.checks[address]!, /^nats-server \d+\.\d+\.\d+, JetStream on$/);
    assert.doesNotMatch(JSON.stringify(up), /secret/);
  } finally {
    await nats.stop();
  }
  const down = await brokerRow(plan);
  assert.equal(down.status, 'unreachable');
  assert.equal(down.readiness.ready, false);
  assert.match(down.readiness.checks[address]!, /ECONNREFUSED|closed before sending INFO/);
});

test('something that is not NATS at that address is unreachable, saying what it answered', async () => {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  // A server that greets with something other than INFO (as a mistyped port might).
  server.on('connection', (socket) => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
  try {
    const row = await brokerRow(planWith({ NATS_URL: `127.0.0.1:${port}` }));
    assert.equal(row.status, 'unreachable');
    assert.match(row.readiness.checks[`127.0.0.1:${port}`]!, /not a NATS server: it said "HTTP\/1.1 400/);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('no NATS_URL: the direct broker, which is no process and has no address', async () => {
  const row = await brokerRow(planWith({}));
  assert.equal(row.instance, 'broker (direct)');
  assert.equal(row.status, 'direct');
  assert.equal(row.address, undefined);
  assert.match(row.readiness.checks.delivery!, /direct between services/);
});
