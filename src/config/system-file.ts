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
 *     ingress:                      # Kubernetes Ingress to the gateway (its Service is then ClusterIP)
 *       host: api.example.com       #   required; a DNS name (`*.example.com` for every subdomain)
 *       className: nginx            #   IngressClass; default the cluster's default class
 *       tls: { clusterIssuer: letsencrypt }   # or { secretName: my-tls }; default no TLS
 *       annotations: { nginx.ingress.kubernetes.io/proxy-body-size: 1m }   # default none
 *     httpRoute:                    # Kubernetes Gateway API HTTPRoute to the gateway (Service ClusterIP)
 *       parentRefs: [{ name: public, namespace: infra, sectionName: https }]   # Gateways to attach to
 *       hostnames: [api.example.com]
 *   resources:                      # optional; a resource a service uses but not listed here
 *     postgres: { embedded: true }  #   gets the embedded default. postgres: { url: postgres://... }
 *     nats: {}                      #   for an external server; nats: { url: nats://... } likewise;
 *                                   #   { image: ... } for the in-cluster server's image, and its
 *                                   #   resources: { cpu, memory, limits } (default: what it idles at)
 *                                   #   storage: { size: 10Gi, className: gp3 } (default 1Gi, default class)
 *   telemetry:                      # optional; on Kubernetes every Deployment (gateway too) gets
 *     otlpEndpoint: http://otel-collector:4318   # OTEL_EXPORTER_OTLP_ENDPOINT, and with them
 *     protocol: http/protobuf       #   OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, http/json, grpc),
 *     sampler: parentbased_traceidratio   # OTEL_TRACES_SAMPLER and
 *     samplerArg: 0.1               #   OTEL_TRACES_SAMPLER_ARG (docs/telemetry.md)
 *   rollout:                      # optional; how a Kubernetes rollout is judged (docs/system-file.md)
 *     minReadySeconds: 10           #   a new pod counts once ready this long; default 10
 *     restartLimit: 3               #   restarts of a new pod that fail the rollout; default 3
 *     podTimeoutSeconds: 300        #   longest wait for the next step of progress; default --timeout
 *     bakeSeconds: 120              #   after the rollouts, watch changed services this long and roll
 *                                   #   back if they degrade; default 0 (no bake; deploy --bake)
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
 *       rollout: { minReadySeconds: 30 }   # its own rollout limits, key by key over the system's
 *       egress: [{ port: 587 }, { cidr: 203.0.113.0/24, port: 25, protocol: TCP }]   # Kubernetes:
 *                                   #   what its pods may reach outside the system; cidr default any
 *   environments:                   # optional overlays by environment name (dev, production, any)
 *     production:
 *       namespace: shippy-prod      # namespace, registry, build, gateway, resources, telemetry, rollout,
 *                                   #   services as above;
 *       registry: registry.example.com/shippy
 *       services: { vessel: { replicas: 3 } }   # services must exist in the base `services`
 *
 * Overlays merge into the base: mappings key by key, lists and scalars replace, and
 * an overlay's `resources.<kind>` replaces the base one (embedded → url). Every
 * overlay is checked whichever environment is chosen (overlay-checks.ts), so a typo in production
 * fails in dev too. An environment without an overlay simply runs the base.
 */
import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './config-error.ts';
import type { IngressInput } from './gateway-routes-schema.ts';
import { displayPath } from './load-config.ts';
import { checkOverlays, cycleMessage, dependencyOrder } from './overlay-checks.ts';
import { isMapping, type Mapping, mergeInto, Provenance, type Source } from './provenance.ts';
import { BYTES, type OverlayInput, type SystemInput, systemInput } from './system-file-schema.ts';
import type {
  GatewayConnectionLimits,
  GatewayIngressSpec,
  InClusterServerSpec,
  ServiceSpec,
  SystemFile,
} from './system-spec.ts';
import { validate } from './validate.ts';
import { parseYamlFile, readYamlFile } from './yaml-file.ts';

export { RESOURCE_KINDS, type ResourceKind } from './system-file-schema.ts';

export type {
  BuildSpec,
  ComputeResources,
  EgressRule,
  GatewayConnectionLimits,
  GatewayHttpRouteSpec,
  GatewayIngressSpec,
  GatewaySpec,
  InClusterServerSpec,
  NatsSpec,
  PostgresSpec,
  ResourceSpecs,
  RolloutSpec,
  ServiceSpec,
  StorageSpec,
  SystemFile,
  TelemetrySpec,
} from './system-spec.ts';

/** Defaults, in one place. */
export const SYSTEM_DEFAULTS = {
  environment: 'dev',
  gateway: {
    port: 8080,
    origins: ['*'],
    bodyLimit: '1mb',
    timeoutMs: 10_000,
    replicas: 2,
    // The Secret cert-manager issues the ingress certificate into (tls.clusterIssuer).
    issuedTlsSecret: 'gateway-tls',
  },
  service: { entry: 'main.ts', port: 0, replicas: 1 },
  build: { base: 'node:24-bookworm-slim' },
  images: { postgres: 'postgres:16.4-bookworm', nats: 'nats:2.10.22-alpine' },
  // The in-cluster servers' volume claims.
  storage: { size: '1Gi' },
  // A pod must stay ready 10 s to count; three restarts of a new pod fail its rollout (docs/system-file.md).
  // No bake unless asked: it lengthens every deploy and only judges a release that serves traffic.
  rollout: { minReadySeconds: 10, restartLimit: 3, bakeSeconds: 0 },
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

// ---------------------------------------------------------------- resolution

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

  checkOverlays(input, source, (envName) => resolveFor(input, envName, file, root));
  return resolveFor(input, env, file, root);
}

function resolveFor(input: SystemInput, env: string | undefined, file: string, root: string): SystemFile {
  const overlay: OverlayInput = (env !== undefined ? input.environments?.[env] : undefined) ?? {};
  const gateway = merged(input.gateway, overlay.gateway);
  // An overlay's ingress (or route) replaces the base's whole: a host and its TLS belong together.
  const ingress = overlay.gateway?.ingress ?? input.gateway?.ingress;
  const httpRoute = overlay.gateway?.httpRoute ?? input.gateway?.httpRoute;
  const telemetry = merged(input.telemetry, overlay.telemetry);
  const rollout = { ...SYSTEM_DEFAULTS.rollout, ...merged(input.rollout, overlay.rollout) };
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
      ...(spec.rollout ? { rollout: { ...rollout, ...spec.rollout } } : {}),
      egress: (spec.egress ?? []).map(({ protocol, ...rule }) => ({ ...rule, protocol: protocol ?? 'TCP' })),
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
      ...(ingress ? { ingress: resolveIngress(ingress) } : {}),
      ...(httpRoute ? { httpRoute } : {}),
    },
    resources: {
      ...(postgres
        ? {
            postgres: {
              embedded: postgres.url === undefined && postgres.urlSecret === undefined,
              url: postgres.url,
              ...(postgres.urlSecret ? { urlSecret: postgres.urlSecret } : {}),
              ...inClusterServer(postgres, SYSTEM_DEFAULTS.images.postgres),
            },
          }
        : {}),
      ...(nats
        ? {
            nats: {
              url: nats.url,
              ...(nats.urlSecret ? { urlSecret: nats.urlSecret } : {}),
              ...inClusterServer(nats, SYSTEM_DEFAULTS.images.nats),
            },
          }
        : {}),
    },
    ...(Object.keys(telemetry).length > 0 ? { telemetry } : {}),
    rollout,
    services,
    environments: Object.keys(input.environments ?? {}),
  };
}

/**
 * A resource's in-cluster server settings with their defaults (kept for an
 * external url too: unused then). postgres's input has the same keys as nats's.
 */
function inClusterServer(
  input: NonNullable<NonNullable<SystemInput['resources']>['nats']>,
  image: string,
): InClusterServerSpec {
  const { size = SYSTEM_DEFAULTS.storage.size, className } = input.storage ?? {};
  return {
    image: input.image ?? image,
    resources: input.resources,
    storage: { size, ...(className !== undefined ? { className } : {}) },
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

function resolveIngress({ host, className, tls, annotations }: IngressInput): GatewayIngressSpec {
  const secretName = tls?.secretName ?? SYSTEM_DEFAULTS.gateway.issuedTlsSecret;
  return {
    host,
    ...(className ? { className } : {}),
    ...(tls
      ? { tls: tls.clusterIssuer ? { secretName, clusterIssuer: tls.clusterIssuer } : { secretName } }
      : {}),
    annotations: Object.fromEntries(Object.entries(annotations ?? {}).map(([k, v]) => [k, String(v)])),
  };
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
