/**
 * The system file, `berth.yaml`: what a system is made of and how it runs in each
 * environment. Reference with examples: docs/system-file.md.
 *
 *   system: shippy                  # required; lowercase name: a-z first, then a-z 0-9 -
 *   namespace: shippy               # Kubernetes namespace; default: the system name
 *   registry: registry.example.com/shippy   # image registry; default: none (local images)
 *   build:                          # how `berth build` makes images; all optional
 *     base: node:24-bookworm-slim   # image every Dockerfile starts FROM; part of every image tag
 *   gateway:                        # all optional
 *     port: 8080                    # default 8080
 *     cors: { origins: ['*'] }      # default ['*']
 *     bodyLimit: 1mb                # bytes, or with b/kb/mb/gb (1024-based); default 1mb
 *     timeoutMs: 10000              # per request; default 10000
 *     static: ui/dist               # folder served at `/`, relative to berth.yaml; default none
 *     headersTimeoutMs: 15000       # connection limits (docs/system-file.md); defaults: headers 15 s,
 *     requestTimeoutMs: 30000       #   whole request 30 s, keep-alive idle 5 s, HTTP/2 idle 30 s,
 *     keepAliveTimeoutMs: 5000      #   10000 connections
 *     idleTimeoutMs: 30000
 *     maxConnections: 10000
 *   resources:                      # optional; a resource a service uses but not listed here
 *     postgres: { embedded: true }  #   gets the embedded default. postgres: { url: postgres://... }
 *     nats: {}                      #   for an external server; nats: { url: nats://... } likewise;
 *                                   #   { image: ... } for the in-cluster server's image
 *   telemetry:                      # optional; on Kubernetes every Deployment (gateway too) gets
 *     otlpEndpoint: http://otel-collector:4318   # OTEL_EXPORTER_OTLP_ENDPOINT, and with them
 *     protocol: http/protobuf       #   OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, http/json, grpc),
 *     sampler: parentbased_traceidratio   # OTEL_TRACES_SAMPLER and
 *     samplerArg: 0.1               #   OTEL_TRACES_SAMPLER_ARG (docs/telemetry.md)
 *   services:                       # required; keys are service names (same rule as system)
 *     vessel:                       # an empty entry (`vessel:`) takes every default
 *       path: vessel                # folder relative to berth.yaml; default: the service name
 *       entry: main.ts              # entry file inside path; default main.ts
 *       port: 0                     # 0 = any free port; default 0
 *       replicas: 1                 # 1..1000; default 1
 *       autoscale: { min: 2, max: 10, cpu: 70 }  # Kubernetes HPA instead of replicas (min ≤ max, cpu 1..100 %)
 *       uses: [postgres]            # resources it needs (postgres, nats); default []
 *       dependsOn: [user]           # services that must be ready before it starts; default []
 *       env: { KEY: value }         # extra environment variables; default {}
 *       secrets: [JWT_SECRET]       # env vars that hold secrets: on Kubernetes they come from the
 *                                   #   Secret <service>-secrets, generated once by `berth deploy`
 *       resources:                  # Kubernetes requests (cpu, memory) and limits; default none
 *         { cpu: 250m, memory: 256Mi, limits: { cpu: '1', memory: 512Mi } }
 *       serves: [shippy.vessel.v1.VesselService]   # proto services it serves; default: those the
 *                                   #   system's .proto files declare in package <system>.<name>[.*]
 *   environments:                   # optional overlays by environment name (dev, production, any)
 *     production:
 *       namespace: shippy-prod      # namespace, registry, build, gateway, resources, telemetry,
 *                                   #   services as above;
 *       registry: registry.example.com/shippy
 *       services: { vessel: { replicas: 3 } }   # services must exist in the base `services`
 *
 * Overlays merge into the base: mappings key by key, lists and scalars replace, and
 * an overlay's `resources.<kind>` replaces the base one (embedded → url). Every
 * overlay is validated whichever environment is chosen, so a typo in production
 * fails in dev too. An environment without an overlay simply runs the base.
 */
import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError, type ConfigProblem, formatKeyPath } from './config-error.ts';
import { displayPath } from './load-config.ts';
import { isMapping, type Mapping, mergeInto, type Path, Provenance, type Source } from './provenance.ts';
import {
  BYTES,
  type OverlayInput,
  type ServiceInput,
  type SystemInput,
  systemInput,
} from './system-file-schema.ts';
import type { GatewayConnectionLimits, ServiceSpec, SystemFile } from './system-spec.ts';
import { validate } from './validate.ts';
import { parseYamlFile, readYamlFile } from './yaml-file.ts';

export { RESOURCE_KINDS, type ResourceKind } from './system-file-schema.ts';

export type {
  BuildSpec,
  ComputeResources,
  GatewayConnectionLimits,
  GatewaySpec,
  NatsSpec,
  PostgresSpec,
  ResourceSpecs,
  ServiceSpec,
  SystemFile,
  TelemetrySpec,
} from './system-spec.ts';

/** Defaults, in one place. */
export const SYSTEM_DEFAULTS = {
  environment: 'dev',
  gateway: { port: 8080, origins: ['*'], bodyLimit: '1mb', timeoutMs: 10_000, replicas: 2 },
  service: { entry: 'main.ts', port: 0, replicas: 1 },
  build: { base: 'node:24-bookworm-slim' },
  images: { postgres: 'postgres:16.4-bookworm', nats: 'nats:2.10.22-alpine' },
} as const;

export interface LoadSystemFileOptions {
  /** Environment whose overlay applies. Default `dev`. */
  readonly env?: string;
  /** Folder that a relative `path` starts from and that messages show paths relative to. */
  readonly cwd?: string;
}

/** Read `berth.yaml` (or `<path>/berth.yaml` when `path` is a folder) and resolve it for `env`. */
export function loadSystemFile(path: string, options: LoadSystemFileOptions = {}): SystemFile {
  let file = options.cwd === undefined ? path : resolve(options.cwd, path);
  try {
    if (statSync(file).isDirectory()) file = join(file, 'berth.yaml');
  } catch {
    // Missing: readYamlFile reports it.
  }
  const loaded = readYamlFile(file, displayPath(file, options.cwd), false)!;
  return resolveSystemFile(loaded.data, loaded.source, resolve(file), options.env);
}

/** Parse system-file text; `file` is where it lives (service paths are relative to its folder). */
export function parseSystemFile(
  text: string,
  options: { file: string; env?: string; label?: string },
): SystemFile {
  const { data, source } = parseYamlFile(text, options.label ?? options.file);
  return resolveSystemFile(data, source, resolve(options.file), options.env);
}

/**
 * Services in the order to start them: each after everything it depends on,
 * otherwise in file order. Stop them in reverse.
 */
export function startOrder(system: Pick<SystemFile, 'services'>): ServiceSpec[] {
  const result = dependencyOrder(system.services);
  if ('cycle' in result) {
    throw new ConfigError([
      {
        source: 'berth.yaml',
        key: `services.${result.cycle[0]}.dependsOn`,
        message: cycleMessage(result.cycle),
      },
    ]);
  }
  return result.order.map((serviceName) => system.services[serviceName]!);
}

// ---------------------------------------------------------------- resolution and checks

function resolveSystemFile(
  data: Mapping,
  source: Source,
  file: string,
  env: string = SYSTEM_DEFAULTS.environment,
): SystemFile {
  // An empty entry (`vessel:` with nothing after it) means "all defaults".
  for (const key of ['services', 'environments']) {
    const entries = data[key];
    if (isMapping(entries)) for (const [k, v] of Object.entries(entries)) if (v === null) entries[k] = {};
  }
  const provenance = new Provenance();
  mergeInto({}, data, source, provenance);
  const input = validate(systemInput, data, { provenance, missing: () => ({ source: source.label }) });
  const root = dirname(file);

  const problems: ConfigProblem[] = [];
  const report = (path: Path, message: string) => {
    const position = source.locate?.(path);
    problems.push({ source: source.label, key: formatKeyPath(path), message, ...position });
  };
  const serviceNames = Object.keys(input.services);
  const known = serviceNames.join(', ') || '(none)';
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
  const environments = input.environments ?? {};
  for (const [envName, overlay] of Object.entries(environments)) {
    const at = ['environments', envName, 'services'];
    for (const serviceName of Object.keys(overlay.services ?? {})) {
      if (!Object.hasOwn(input.services, serviceName)) {
        report([...at, serviceName], `unknown service "${serviceName}"; an overlay can only change ${known}`);
      }
    }
    checkDependsOn(overlay.services ?? {}, at);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  // Cycles and port clashes depend on the merged result: check the base and every overlay.
  const seen = new Set<string>();
  for (const envName of [undefined, ...Object.keys(environments)]) {
    const resolved = resolveFor(input, envName, file, root);
    const overlay = envName === undefined ? undefined : environments[envName];
    const keyOf = (serviceName: string, field: keyof ServiceInput): Path =>
      overlay?.services?.[serviceName]?.[field] !== undefined
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
    for (const serviceName of serviceNames) {
      const spec = merged(input.services[serviceName], overlay?.services?.[serviceName]);
      const message = `service "${serviceName}" sets both replicas and autoscale: the autoscaler sets the replicas (autoscale.min is the least), so keep one`;
      if (spec.replicas !== undefined && spec.autoscale !== undefined && !seen.has(message)) {
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
  if (problems.length > 0) throw new ConfigError(problems);
  return resolveFor(input, env, file, root);
}

function resolveFor(input: SystemInput, env: string | undefined, file: string, root: string): SystemFile {
  const overlay: OverlayInput = (env !== undefined ? input.environments?.[env] : undefined) ?? {};
  const gateway = merged(input.gateway, overlay.gateway);
  const telemetry = merged(input.telemetry, overlay.telemetry);
  const resources = { ...input.resources, ...overlay.resources };
  const services: Record<string, ServiceSpec> = {};
  for (const [serviceName, base] of Object.entries(input.services)) {
    const spec = merged(base, overlay.services?.[serviceName]);
    const path = spec.path ?? serviceName;
    const dir = resolve(root, path);
    services[serviceName] = {
      name: serviceName,
      path,
      dir,
      entry: resolve(dir, spec.entry ?? SYSTEM_DEFAULTS.service.entry),
      port: spec.port ?? SYSTEM_DEFAULTS.service.port,
      replicas: spec.replicas ?? spec.autoscale?.min ?? SYSTEM_DEFAULTS.service.replicas,
      ...(spec.autoscale ? { autoscale: spec.autoscale } : {}),
      uses: [...new Set(spec.uses ?? [])],
      dependsOn: [...new Set(spec.dependsOn ?? [])],
      env: Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, String(v)])),
      secrets: [...new Set(spec.secrets ?? [])],
      resources: spec.resources,
      serves: spec.serves && [...new Set(spec.serves)],
    };
  }
  const used = new Set(Object.values(services).flatMap((s) => s.uses));
  const postgres = resources.postgres ?? (used.has('postgres') ? {} : undefined);
  const nats = resources.nats ?? (used.has('nats') ? {} : undefined);
  return {
    file,
    root,
    environment: env ?? SYSTEM_DEFAULTS.environment,
    system: input.system,
    namespace: overlay.namespace ?? input.namespace ?? input.system,
    registry: overlay.registry ?? input.registry,
    build: { base: overlay.build?.base ?? input.build?.base ?? SYSTEM_DEFAULTS.build.base },
    gateway: {
      port: gateway.port ?? SYSTEM_DEFAULTS.gateway.port,
      replicas: gateway.replicas ?? SYSTEM_DEFAULTS.gateway.replicas,
      resources: gateway.resources,
      cors: { origins: gateway.cors?.origins ?? [...SYSTEM_DEFAULTS.gateway.origins] },
      bodyLimit: parseBytes(gateway.bodyLimit ?? SYSTEM_DEFAULTS.gateway.bodyLimit),
      timeoutMs: gateway.timeoutMs ?? SYSTEM_DEFAULTS.gateway.timeoutMs,
      static:
        gateway.static === undefined
          ? undefined
          : isAbsolute(gateway.static)
            ? gateway.static
            : resolve(root, gateway.static),
      ...connectionLimitsOf(gateway),
    },
    resources: {
      ...(postgres
        ? {
            postgres: {
              embedded: postgres.url === undefined && postgres.urlSecret === undefined,
              url: postgres.url,
              ...(postgres.urlSecret ? { urlSecret: postgres.urlSecret } : {}),
              image: postgres.image ?? SYSTEM_DEFAULTS.images.postgres,
            },
          }
        : {}),
      ...(nats
        ? {
            nats: {
              url: nats.url,
              ...(nats.urlSecret ? { urlSecret: nats.urlSecret } : {}),
              image: nats.image ?? SYSTEM_DEFAULTS.images.nats,
            },
          }
        : {}),
    },
    ...(Object.keys(telemetry).length > 0 ? { telemetry } : {}),
    services,
    environments: Object.keys(input.environments ?? {}),
  };
}

/** Deep merge of validated input: mappings key by key, everything else replaces. */
function merged<T extends object>(base: T | undefined, overlay: T | undefined): Partial<T> {
  const out = mergeInto(
    structuredClone(base ?? {}),
    structuredClone(overlay ?? {}),
    { label: '' },
    new Provenance(),
  );
  return out as Partial<T>;
}

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

function parseBytes(size: number | string): number {
  if (typeof size === 'number') return size;
  const [, amount, unit] = BYTES.exec(size.trim())!;
  return Math.floor(Number(amount) * UNITS[(unit ?? 'b').toLowerCase()]!);
}

/** Topological order (stable: file order among peers), or one cycle. */
function dependencyOrder(
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

function cycleMessage(cycle: readonly string[]): string {
  return `dependency cycle: ${cycle.join(' → ')}`;
}

const connectionLimitKeys = [
  'headersTimeoutMs',
  'requestTimeoutMs',
  'keepAliveTimeoutMs',
  'idleTimeoutMs',
  'maxConnections',
] as const;

/** `{ connectionLimits }` with the limits the gateway section sets, or nothing when it sets none. */
function connectionLimitsOf(gateway: GatewayConnectionLimits): {
  connectionLimits?: GatewayConnectionLimits;
} {
  const set = connectionLimitKeys.filter((key) => gateway[key] !== undefined);
  return set.length === 0
    ? {}
    : { connectionLimits: Object.fromEntries(set.map((key) => [key, gateway[key]])) };
}
