/** A dashboard runtime with nothing running: for the tests of the receiver and the API, which need none. */
import type { DashboardRuntime } from '../../../src/dashboard/dashboard-server.ts';

export const idleRuntime: DashboardRuntime = {
  system: 'testsys',
  environment: 'dev',
  processes: () => [],
  stop: async () => {},
  start: async () => {},
  gateway: () => undefined,
  databases: () => new Map(),
  broker: () => ({ kind: 'direct' }),
};
