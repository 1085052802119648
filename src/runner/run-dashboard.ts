/**
 * The dashboard of `berth run`, wired to its runner: what it shows and does comes
 * from the runner through the dashboard's runtime interface, so src/dashboard
 * imports nothing of src/runner. Started before the plan: the children's OTLP
 * endpoint is its address.
 */
import type { SystemFile } from '../config/system-file.ts';
import type { DashboardBroker } from '../dashboard/broker-resource.ts';
import { Dashboard } from '../dashboard/dashboard-server.ts';
import { HttpError } from '../dashboard/http-io.ts';
import { ControlRequestError } from './control.ts';
import { databasesOf, type Env, type Plan, userTracesEndpoint } from './plan.ts';
import type { ProcessState } from './state.ts';

/** What the dashboard asks of the runner. */
export interface RunDashboardHost {
  readonly system: SystemFile;
  readonly env: Env;
  /** `--dashboard-port`; any free port when undefined. */
  readonly port: number | undefined;
  processes(): readonly ProcessState[];
  /** Services, the gateway, postgres by name (Runner.stopUnits). */
  stopUnits(names: readonly string[]): Promise<void>;
  startUnits(names: readonly string[]): Promise<void>;
  /** `http://127.0.0.1:<port>` of the gateway, when it runs. */
  gateway(): string | undefined;
  /** The plan, once made (the dashboard starts before it): its databases and broker. */
  plan(): Plan;
}

export function startRunDashboard(host: RunDashboardHost): Promise<Dashboard> {
  // A unit the runner does not know (or cannot stop) is the request's mistake: a 400 with the runner's message.
  const asked = (action: Promise<void>) =>
    action.catch((error: unknown) => {
      throw error instanceof ControlRequestError ? new HttpError(400, error.message) : error;
    });
  return Dashboard.start({
    port: host.port,
    tracesElsewhere: userTracesEndpoint(host.env),
    runtime: {
      system: host.system.system,
      environment: host.system.environment,
      processes: () => host.processes(),
      stop: (names) => asked(host.stopUnits(names)),
      start: (names) => asked(host.startUnits(names)),
      gateway: () => host.gateway(),
      databases: () => databasesOf(host.plan()),
      broker: () => brokerOf(host.plan()),
    },
  });
}

/** Where the runner's log output sends each child's line: the dashboard's Logs page, under its service. */
export function linesToDashboard(dashboard: Dashboard, plan: Plan): (instance: string, line: string) => void {
  const serviceOf = new Map(plan.units.flatMap((unit) => unit.processes.map((p) => [p.instance, unit.name])));
  return (instance, line) => dashboard.logs.add(instance, serviceOf.get(instance)!, line);
}

/** NATS when the run gave its services a NATS_URL (plan.ts: NATS_URL, else resources.nats.url); else the direct broker. */
export function brokerOf(plan: Plan): DashboardBroker {
  const url = plan.units.flatMap((unit) => unit.processes).find((p) => p.env.NATS_URL)?.env.NATS_URL;
  return url ? { kind: 'nats', url } : { kind: 'direct' };
}

/**
 * Why the broker's Resources row (broker-resource.ts names it `nats` or `broker`)
 * has no stop or start; undefined for any other name.
 */
export function brokerNotStoppable(broker: DashboardBroker, name: string): string | undefined {
  if (broker.kind === 'nats' && name === 'nats') {
    return 'nats is the NATS server the run was given (NATS_URL), not a process of berth run: stop it where it runs';
  }
  if (broker.kind === 'direct' && name === 'broker') {
    return 'broker is the direct broker: services deliver events to each other, there is no process to stop or start';
  }
  return undefined;
}
