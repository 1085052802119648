/** The runner's side of the dashboard (src/runner/run-dashboard.ts): what the runner refuses is the request's 400. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSystemFile } from '../../src/config/system-file.ts';
import type { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { ControlRequestError } from '../../src/runner/control.ts';
import { startRunDashboard } from '../../src/runner/run-dashboard.ts';

const system = loadSystemFile(join(import.meta.dirname, '../runner/fixtures'));
let dashboard: Dashboard | undefined;
after(() => dashboard?.close());

test('an unknown service is a 400 with the runner’s message; a user’s traces endpoint is shown as elsewhere', async () => {
  dashboard = await startRunDashboard({
    system,
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' },
    port: undefined,
    processes: () => [],
    stopUnits: async (names) => {
      throw new ControlRequestError(`unknown service "${names[0]}"`);
    },
    startUnits: async () => {},
    gateway: () => undefined,
    plan: () => {
      throw new Error('not asked for in this test');
    },
  });
  const headers = { authorization: `Bearer ${dashboard.token}`, 'content-type': 'application/json' };
  const stop = await fetch(`${dashboard.url}/api/resources/stop`, {
    method: 'POST',
    headers,
    body: '{"services":["nope"]}',
  });
  assert.equal(stop.status, 400);
  assert.deepEqual(await stop.json(), { error: 'unknown service "nope"' });
  const overview = (await (await fetch(`${dashboard.url}/api/overview`, { headers })).json()) as {
    tracesElsewhere?: string;
  };
  assert.equal(overview.tracesElsewhere, 'http://collector:4318/v1/traces');
});
