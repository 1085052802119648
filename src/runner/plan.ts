/**
 * From a system file to the processes `berth run` starts: which services
 * (`--only` and what they depend on), which database and broker each gets, and
 * the environment of every child.
 *
 * Environment of a service instance (the runner's own environment is inherited,
 * then the service's `env:` from berth.yaml, then these):
 *   BERTH_SYSTEM, BERTH_SERVICE, BERTH_INSTANCE (vessel-2), BERTH_ENV (dev)
 *   BERTH_REGISTRY=local, BERTH_REGISTRY_DIR=<data dir>/registry
 *   BERTH_DATA_DIR=<data dir>   (services keep their files in a folder of their own under it)
 *   BERTH_HOST=127.0.0.1, PORT (the service's `port:`, 0 = any free port)
 *   LOG_FORMAT=json, NODE_COMPILE_CACHE (<cache>/node-compile-cache unless set)
 *   DATABASE_URL   only to services that use postgres: <NAME>_DATABASE_URL, else
 *                  DATABASE_URL, else resources.postgres.url, else the embedded PGlite
 *                  (its URL holds a random password per run, which PGlite's process
 *                  gets as BERTH_PGLITE_PASSWORD)
 *   NATS_URL       only to services that use nats: NATS_URL, else resources.nats.url;
 *                  neither: unset, and services use the direct broker
 *   BERTH_BROKER_TOKEN  a random secret per run, which the direct brokers of the run
 *                  require of each other's deliveries (never logged, not in state.json)
 *   OTEL_SERVICE_NAME=<service> (gateway: `gateway`) unless the service's own `env:` sets it;
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, _TRACES_PROTOCOL=http/json, _TRACES_HEADERS (the
 *                  dashboard's ingest token) when the dashboard receives the traces
 *                  (`telemetry`): not when the runner's or the service's environment names
 *                  an OTLP endpoint (generic or for traces), which then passes through
 * The gateway gets BERTH_GATEWAY_PORT, BERTH_STATIC_DIR (when that folder exists),
 * BERTH_CORS_ORIGINS, BERTH_KNOWN_SERVICES, BERTH_GATEWAY_TIMEOUT_MS, BERTH_BODY_LIMIT,
 * and a BERTH_GATEWAY_* variable for each connection limit berth.yaml sets.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewaySettingsEnv } from '../config/gateway-env.ts';
import type { ServiceSpec, SystemFile } from '../config/system-file.ts';
import { pgliteNodeFlags, runNodeFlags } from '../service/node-flags.ts';

const GATEWAY_ENTRY = resolve(import.meta.dirname, '../gateway/main.ts');
const PGLITE_ENTRY = resolve(import.meta.dirname, 'pglite-server.ts');
/** The installed PGlite's version: a template is only good for the version that made it. */
function pgliteVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  while (dirname(dir) !== dir) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (pkg.name === '@electric-sql/pglite') return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface PlanOptions {
  readonly system: SystemFile;
  /** The runner's environment: inherited by children, and where DATABASE_URL / NATS_URL come from. */
  readonly env: Env;
  readonly dataDir: string;
  /** Run these services and what they depend on; all when empty or omitted. */
  readonly only?: readonly string[];
  /** Overrides the gateway port of the system file. */
  readonly gatewayPort?: number;
  /** Node binary for the children; default the runner's own. */
  readonly nodePath?: string;
  /** Where the gateway and services send their traces (the dashboard's OTLP receiver). */
  readonly telemetry?: TelemetryTarget;
}

export interface TelemetryTarget {
  /** `http://127.0.0.1:<port>`: the children's traces go to `<endpoint>/v1/traces`. */
  readonly endpoint: string;
  /** Bearer token the receiver requires: good for sending traces only, not for the dashboard's API. */
  readonly token: string;
}

/** The user's own OTLP endpoint for traces, generic or traces-only, when their environment names one. */
export function userTracesEndpoint(env: Env): string | undefined {
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
}

/**
 * The OTEL_* variables of a child named `serviceName`, whose own `env:` in berth.yaml
 * is `own` (the runner's environment is `env`). The name is always the child's own
 * (a runner-wide OTEL_SERVICE_NAME would merge every process into one service);
 * only the traces-specific variables are set, so a user's generic ones stay as they are.
 */
function telemetryEnv(
  serviceName: string,
  own: Env,
  env: Env,
  target: TelemetryTarget | undefined,
): Record<string, string> {
  return {
    OTEL_SERVICE_NAME: own.OTEL_SERVICE_NAME || serviceName,
    ...(target && !userTracesEndpoint({ ...env, ...own })
      ? {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${target.endpoint}/v1/traces`,
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
          // W3C baggage syntax, values percent-decoded by the SDK: the space must be encoded.
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: `authorization=Bearer%20${target.token}`,
        }
      : {}),
  };
}

export interface PlannedProcess {
  readonly instance: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface PlannedUnit {
  /** `postgres`, `gateway` or a service name. */
  readonly name: string;
  readonly kind: 'postgres' | 'gateway' | 'service';
  /** Units that must be ready before this one starts. */
  readonly deps: readonly string[];
  readonly processes: readonly PlannedProcess[];
}

export interface Plan {
  readonly registryDir: string;
  readonly logsDir: string;
  readonly gatewayPort: number;
  /** Every unit of the system, in start order (postgres, gateway, services). */
  readonly units: readonly PlannedUnit[];
  /** What `berth run` starts: the `--only` selection, its dependencies, postgres and the gateway. */
  readonly selected: readonly string[];
  readonly database: 'embedded' | 'external' | 'none';
  /** Port of the embedded PGlite, when there is one. */
  readonly pglitePort: number | undefined;
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`, when PGlite is embedded. A secret. */
  readonly embeddedDatabaseUrl: string | undefined;
}

/**
 * The run's databases by a name to show: `embedded` for the PGlite, else the first
 * service using that URL. The URLs hold passwords: only the dashboard's queries see them.
 */
export function databasesOf(plan: Plan): Map<string, string> {
  const databases = new Map<string, string>();
  const named = new Set<string>();
  for (const unit of plan.units) {
    const url = unit.kind === 'service' ? unit.processes[0]?.env.DATABASE_URL : undefined;
    if (url === undefined || named.has(url)) continue;
    named.add(url);
    databases.set(url === plan.embeddedDatabaseUrl ? 'embedded' : unit.name, url);
  }
  return databases;
}

/** Services named by `only` plus, transitively, what they depend on; an unknown name is an Error. */
export function selectServices(system: SystemFile, only: readonly string[] = []): string[] {
  const names = Object.keys(system.services);
  if (only.length === 0) return names;
  const selected = new Set<string>();
  const add = (name: string) => {
    const spec = system.services[name];
    if (!spec)
      throw new Error(`--only: unknown service "${name}"; ${system.system} has: ${names.join(', ')}`);
    if (selected.has(name)) return;
    selected.add(name);
    spec.dependsOn.forEach(add);
  };
  only.forEach(add);
  return names.filter((name) => selected.has(name));
}

/** berth's per-user cache: BERTH_CACHE_DIR, else $XDG_CACHE_HOME/berth, else ~/.cache/berth. */
function cacheDir(env: Env): string {
  return env.BERTH_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'berth');
}

/**
 * A freshly initialised PGlite data folder, kept per PGlite version in the cache:
 * a new data dir starts as a copy of it in well under a second instead of running initdb.
 */
export function pgliteTemplate(env: Env): string {
  return join(cacheDir(env), `pglite-${pgliteVersion()}-template`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function envKey(service: string): string {
  return service.toUpperCase().replaceAll('-', '_');
}

/** A URL for `service` from outside berth, if there is one. */
function externalDatabaseUrl(system: SystemFile, service: ServiceSpec, env: Env): string | undefined {
  return env[`${envKey(service.name)}_DATABASE_URL`] || env.DATABASE_URL || system.resources.postgres?.url;
}

export async function planSystem(options: PlanOptions): Promise<Plan> {
  const { system, env, dataDir } = options;
  const node = options.nodePath ?? process.execPath;
  const registryDir = join(dataDir, 'registry');
  const logsDir = join(dataDir, 'logs');
  const gatewayPort = options.gatewayPort ?? system.gateway.port;
  const services = Object.values(system.services);
  const selected = selectServices(system, options.only);

  const usesPostgres = services.filter((service) => service.uses.includes('postgres'));
  const embedded = usesPostgres.some((service) => !externalDatabaseUrl(system, service, env));
  // Chosen once: PGlite keeps it across restarts, so services' DATABASE_URL stays valid.
  const port = embedded ? await freePort() : undefined;
  // Per run: only this run's services (and whoever reads its 0600 state file) get in.
  const pglitePassword = randomBytes(24).toString('base64url');
  const embeddedUrl = `postgres://postgres:${pglitePassword}@127.0.0.1:${port}/postgres`;
  const natsUrl = env.NATS_URL || system.resources.nats?.url;
  // Fresh per run, so no process outside this run (another user's, an earlier run's) can deliver events.
  const brokerToken = randomBytes(32).toString('base64url');

  // Inherited by every child, minus what only some of them may see.
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    // NODE_TEST_CONTEXT: set by `node --test` for its own children, which these are not.
    // BERTH_BROKER_TOKEN, BERTH_PGLITE_PASSWORD: an enclosing run's; this run's own go
    // to its services and its PGlite only.
    if (
      value !== undefined &&
      ![
        'DATABASE_URL',
        'NATS_URL',
        'NODE_TEST_CONTEXT',
        'BERTH_BROKER_TOKEN',
        'BERTH_PGLITE_PASSWORD',
      ].includes(key)
    ) {
      base[key] = value;
    }
  }
  const common = {
    BERTH_SYSTEM: system.system,
    BERTH_ENV: system.environment,
    BERTH_REGISTRY: 'local',
    BERTH_REGISTRY_DIR: registryDir,
    BERTH_DATA_DIR: dataDir,
    BERTH_HOST: '127.0.0.1',
    LOG_FORMAT: 'json',
    // V8's code cache (TypeScript already stripped), kept per user: a child boots on about half the CPU.
    NODE_COMPILE_CACHE: env.NODE_COMPILE_CACHE || join(cacheDir(env), 'node-compile-cache'),
  };

  const units: PlannedUnit[] = [];
  if (embedded) {
    units.push({
      name: 'postgres',
      kind: 'postgres',
      deps: [],
      processes: [
        {
          instance: 'postgres',
          command: node,
          args: [...pgliteNodeFlags, PGLITE_ENTRY],
          cwd: system.root,
          env: {
            ...base,
            ...common,
            PORT: String(port),
            BERTH_PGLITE_DIR: join(dataDir, 'pglite'),
            BERTH_PGLITE_PASSWORD: pglitePassword,
            BERTH_PGLITE_TEMPLATE: pgliteTemplate(env),
          },
        },
      ],
    });
  }
  const staticDir = system.gateway.static;
  units.push({
    name: 'gateway',
    kind: 'gateway',
    deps: [],
    processes: [
      {
        instance: 'gateway',
        command: node,
        args: [...runNodeFlags, GATEWAY_ENTRY],
        cwd: system.root,
        env: {
          ...base,
          ...common,
          BERTH_GATEWAY_PORT: String(gatewayPort),
          BERTH_GATEWAY_TRUST_TRACEPARENT: 'true', // local: the API explorer's calls keep its trace id
          ...(staticDir && existsSync(staticDir) ? { BERTH_STATIC_DIR: staticDir } : {}),
          ...gatewaySettingsEnv(system),
          ...telemetryEnv('gateway', {}, env, options.telemetry),
        },
      },
    ],
  });
  for (const service of services) {
    const databaseUrl = service.uses.includes('postgres')
      ? (externalDatabaseUrl(system, service, env) ?? embeddedUrl)
      : undefined;
    const processes = Array.from({ length: service.replicas }, (_, i): PlannedProcess => {
      const instance = `${service.name}-${i + 1}`;
      return {
        instance,
        command: node,
        args: [...runNodeFlags, service.entry],
        cwd: service.dir,
        env: {
          ...base,
          ...service.env,
          ...common,
          BERTH_SERVICE: service.name,
          BERTH_INSTANCE: instance,
          BERTH_BROKER_TOKEN: brokerToken,
          // A fixed port can be taken once; further replicas take any free port.
          PORT: String(i === 0 ? service.port : 0),
          ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
          ...(natsUrl && service.uses.includes('nats') ? { NATS_URL: natsUrl } : {}),
          ...telemetryEnv(service.name, service.env, env, options.telemetry),
        },
      };
    });
    units.push({
      name: service.name,
      kind: 'service',
      deps: [...(embedded && databaseUrl === embeddedUrl ? ['postgres'] : []), ...service.dependsOn],
      processes,
    });
  }
  const selectedUnits = units
    .filter(
      (unit) =>
        unit.kind === 'gateway' ||
        selected.includes(unit.name) ||
        (unit.kind === 'postgres' &&
          units.some((other) => selected.includes(other.name) && other.deps.includes('postgres'))),
    )
    .map((unit) => unit.name);
  return {
    registryDir,
    logsDir,
    gatewayPort,
    units,
    selected: selectedUnits,
    database: embedded ? 'embedded' : usesPostgres.length > 0 ? 'external' : 'none',
    pglitePort: port,
    embeddedDatabaseUrl: embedded ? embeddedUrl : undefined,
  };
}
