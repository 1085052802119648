/**
 * The checks a system file gets beyond its schema, on the base and on every
 * environment's overlay whichever environment is chosen, so a typo in
 * production fails in dev too (system-file.ts):
 *  - what the file names must exist: services an overlay changes, and the
 *    services in each `dependsOn`;
 *  - what depends on the merged result, per environment: dependency cycles,
 *    replicas together with autoscale, two ports alike, and a gateway whose
 *    headers timeout exceeds its request timeout.
 * Each problem is reported once, at the key to blame: the overlay's when the
 * overlay brings it in, else the base's.
 */
import { ConfigError, type ConfigProblem, formatKeyPath } from './config-error.ts';
import type { Path, Source } from './provenance.ts';
import type { ServiceInput, SystemInput } from './system-file-schema.ts';
import type { ServiceSpec, SystemFile } from './system-spec.ts';

type Report = (path: Path, message: string) => void;

/**
 * Throws a ConfigError with every problem found, located in `source`;
 * `resolveFor(env)` is the system as environment `env` (undefined: the base) runs it.
 */
export function checkOverlays(
  input: SystemInput,
  source: Source,
  resolveFor: (env: string | undefined) => SystemFile,
): void {
  const problems: ConfigProblem[] = [];
  const report: Report = (path, message) => {
    const position = source.locate?.(path);
    problems.push({ source: source.label, key: formatKeyPath(path), message, ...position });
  };
  checkServiceNames(input, report);
  if (problems.length > 0) throw new ConfigError(problems);
  checkEnvironments(input, report, resolveFor);
  if (problems.length > 0) throw new ConfigError(problems);
}

function checkServiceNames(input: SystemInput, report: Report): void {
  const known = Object.keys(input.services).join(', ') || '(none)';
  const checkDependsOn = (services: Record<string, ServiceInput>, at: Path) => {
    for (const [serviceName, service] of Object.entries(services)) {
      (service.dependsOn ?? []).forEach((dependency, i) => {
        const key = [...at, serviceName, 'dependsOn', i];
        if (dependency === serviceName) report(key, `"${dependency}" cannot depend on itself`);
        else if (!Object.hasOwn(input.services, dependency))
          report(key, `unknown service "${dependency}"; services are: ${known}`);
      });
    }
  };
  checkDependsOn(input.services, ['services']);
  for (const [envName, overlay] of Object.entries(input.environments ?? {})) {
    const at = ['environments', envName, 'services'];
    for (const serviceName of Object.keys(overlay.services ?? {})) {
      if (!Object.hasOwn(input.services, serviceName)) {
        report([...at, serviceName], `unknown service "${serviceName}"; an overlay can only change ${known}`);
      }
    }
    checkDependsOn(overlay.services ?? {}, at);
  }
}

/** Cycles and port clashes depend on the merged result: check the base and every overlay. */
function checkEnvironments(
  input: SystemInput,
  report: Report,
  resolveFor: (env: string | undefined) => SystemFile,
): void {
  const environments = input.environments ?? {};
  const seen = new Set<string>();
  for (const envName of [undefined, ...Object.keys(environments)]) {
    const resolved = resolveFor(envName);
    const overlay = envName === undefined ? undefined : environments[envName];
    const setByOverlay = (serviceName: string, field: keyof ServiceInput) =>
      overlay?.services?.[serviceName]?.[field] !== undefined;
    const keyOf = (serviceName: string, field: keyof ServiceInput): Path =>
      setByOverlay(serviceName, field)
        ? ['environments', envName!, 'services', serviceName, field]
        : ['services', serviceName, field];
    const order = dependencyOrder(resolved.services);
    if ('cycle' in order) {
      // Name the dependsOn that closes the cycle in this overlay, when the overlay is to blame.
      const members = order.cycle.slice(0, -1);
      const start = members.find((s) => keyOf(s, 'dependsOn')[0] === 'environments') ?? members[0]!;
      const rotated = [
        ...members.slice(members.indexOf(start)),
        ...members.slice(0, members.indexOf(start)),
        start,
      ];
      const message = cycleMessage(rotated);
      if (!seen.has(message)) report(keyOf(start, 'dependsOn'), message);
      seen.add(message);
    }
    for (const serviceName of Object.keys(input.services)) {
      // Set in the merged service: by the overlay or, where it says nothing, by the base.
      const sets = (field: keyof ServiceInput) =>
        setByOverlay(serviceName, field) || input.services[serviceName]?.[field] !== undefined;
      const message = `service "${serviceName}" sets both replicas and autoscale: the autoscaler sets the replicas (autoscale.min is the least), so keep one`;
      if (sets('replicas') && sets('autoscale') && !seen.has(message)) {
        // The key this overlay adds, when the overlay is to blame.
        const blamed = keyOf(serviceName, 'autoscale')[0] === 'environments' ? 'autoscale' : 'replicas';
        report(keyOf(serviceName, blamed), message);
        seen.add(message);
      }
    }
    const ports = new Map<number, string>([[resolved.gateway.port, 'the gateway']]);
    for (const service of Object.values(resolved.services)) {
      if (service.port === 0) continue;
      const other = ports.get(service.port);
      const message = `port ${service.port} is also used by ${other}`;
      if (other !== undefined && !seen.has(`${service.name}:${message}`)) {
        report(keyOf(service.name, 'port'), message);
        seen.add(`${service.name}:${message}`);
      }
      ports.set(service.port, `service "${service.name}"`);
    }
    const limits = resolved.gateway.connectionLimits;
    if ((limits?.headersTimeoutMs ?? 0) > (limits?.requestTimeoutMs ?? Number.POSITIVE_INFINITY)) {
      const message = `headersTimeoutMs (${limits?.headersTimeoutMs}) must not exceed requestTimeoutMs (${limits?.requestTimeoutMs})`;
      const path: Path =
        overlay?.gateway?.headersTimeoutMs === undefined
          ? ['gateway', 'headersTimeoutMs']
          : ['environments', envName ?? '', 'gateway', 'headersTimeoutMs'];
      if (!seen.has(message)) report(path, message);
      seen.add(message);
    }
  }
}

/** Topological order (stable: file order among peers), or one cycle. */
export function dependencyOrder(
  services: Readonly<Record<string, Pick<ServiceSpec, 'dependsOn'>>>,
): { order: string[] } | { cycle: string[] } {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (serviceName: string): string[] | undefined => {
    const current = state.get(serviceName);
    if (current === 'done') return undefined;
    if (current === 'visiting') return [...stack.slice(stack.indexOf(serviceName)), serviceName];
    state.set(serviceName, 'visiting');
    stack.push(serviceName);
    for (const dependency of services[serviceName]?.dependsOn ?? []) {
      if (!Object.hasOwn(services, dependency)) continue;
      const cycle = visit(dependency);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(serviceName, 'done');
    order.push(serviceName);
    return undefined;
  };
  for (const serviceName of Object.keys(services)) {
    const cycle = visit(serviceName);
    if (cycle) return { cycle };
  }
  return { order };
}

export function cycleMessage(cycle: readonly string[]): string {
  return `dependency cycle: ${cycle.join(' → ')}`;
}
