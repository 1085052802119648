/**
 * The gateway as a process. `node src/gateway/main.ts` is what `berth run` spawns;
 * `berth gateway` runs the same thing in the foreground. Both read their settings
 * through `gatewayOptionsFrom`: a flag (`--port`) when the command got one, else
 * the environment variable, else the default.
 *
 *   BERTH_GATEWAY_PORT        --port            default 8080; 0 picks a free port
 *   BERTH_HOST                --host            default 127.0.0.1
 *   BERTH_STATIC_DIR          --static          folder served at / (the web UI)
 *   BERTH_CORS_ORIGINS        --cors            comma list of allowed origins, or *
 *   BERTH_GATEWAY_TIMEOUT_MS  --timeout         deadline of each call, default 10000
 *   BERTH_BODY_LIMIT          --body-limit      largest request body in bytes, default 1 MiB
 *   BERTH_KNOWN_SERVICES      --known-services  comma list: these answer 503 when down, others 404
 *   BERTH_OPS_PORT            --ops-port        port of /healthz, /readyz, /metrics, /_berth/* on their
 *                                               own (then not public); default: on the public port
 *   BERTH_GATEWAY_HEADERS_TIMEOUT_MS     --headers-timeout     time to send request headers, default 15000
 *   BERTH_GATEWAY_REQUEST_TIMEOUT_MS     --request-timeout     time to send a whole request, default 30000
 *   BERTH_GATEWAY_KEEP_ALIVE_TIMEOUT_MS  --keep-alive-timeout  idle HTTP/1.1 connection closed after, default 5000
 *   BERTH_GATEWAY_IDLE_TIMEOUT_MS        --idle-timeout        idle HTTP/2 connection closed after, default 30000
 *   BERTH_GATEWAY_MAX_CONNECTIONS        --max-connections     open connections at most, default 10000
 *   BERTH_GATEWAY_TRUST_TRACEPARENT      --trust-traceparent   true: continue clients' traces (behind a
 *                                                              trusted proxy); default false: a new trace
 *                                                              per request, linked to the client's
 *   BERTH_REGISTRY, BERTH_REGISTRY_DIR, LOG_LEVEL, LOG_FORMAT, OTEL_* as for services (run-main.ts);
 *   service.name defaults to `gateway`
 *
 * SIGTERM/SIGINT stop it gracefully (drain, then exit 0).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { Registry } from '../registry/registry.ts';
import { resolveConnectionLimits } from '../service/dual-protocol-server.ts';
import { type Runtime, runtimeFromEnv } from '../service/run-main.ts';
import { startTracing, type Tracing } from '../telemetry/tracing.ts';
import type { GatewayOptions } from './gateway.ts';

/** Each setting's command-line flag and environment variable. */
const settings = {
  port: { flag: 'port', env: 'BERTH_GATEWAY_PORT' },
  host: { flag: 'host', env: 'BERTH_HOST' },
  staticDir: { flag: 'static', env: 'BERTH_STATIC_DIR' },
  corsOrigins: { flag: 'cors', env: 'BERTH_CORS_ORIGINS' },
  timeoutMs: { flag: 'timeout', env: 'BERTH_GATEWAY_TIMEOUT_MS' },
  bodyLimitBytes: { flag: 'body-limit', env: 'BERTH_BODY_LIMIT' },
  knownServices: { flag: 'known-services', env: 'BERTH_KNOWN_SERVICES' },
  opsPort: { flag: 'ops-port', env: 'BERTH_OPS_PORT' },
  headersTimeoutMs: { flag: 'headers-timeout', env: 'BERTH_GATEWAY_HEADERS_TIMEOUT_MS' },
  requestTimeoutMs: { flag: 'request-timeout', env: 'BERTH_GATEWAY_REQUEST_TIMEOUT_MS' },
  keepAliveTimeoutMs: { flag: 'keep-alive-timeout', env: 'BERTH_GATEWAY_KEEP_ALIVE_TIMEOUT_MS' },
  idleTimeoutMs: { flag: 'idle-timeout', env: 'BERTH_GATEWAY_IDLE_TIMEOUT_MS' },
  maxConnections: { flag: 'max-connections', env: 'BERTH_GATEWAY_MAX_CONNECTIONS' },
  trustTraceparent: { flag: 'trust-traceparent', env: 'BERTH_GATEWAY_TRUST_TRACEPARENT' },
} as const;

/** The flags, for a command's parseArgs options. */
export const gatewayFlags = Object.fromEntries(
  Object.values(settings).map(({ flag }) => [flag, { type: 'string' as const }]),
);

/** A setting with a value it cannot take; `source` is the flag (`--port`) or the variable. */
export class GatewaySettingError extends Error {
  readonly source: string;
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.source = source;
  }
}

export interface GatewaySources {
  /** Parsed command-line flags, by flag name; empty for the process entry. */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative paths (`--static ui/dist`) are resolved against it. */
  readonly cwd: string;
  readonly registry: Registry;
  readonly logger?: Logger;
}

/** GatewayOptions from flags and environment, validated; throws GatewaySettingError naming the bad one. */
export function gatewayOptionsFrom(sources: GatewaySources): GatewayOptions {
  const read = (key: keyof typeof settings): { value: string; source: string } | undefined => {
    const { flag, env } = settings[key];
    const fromFlag = sources.flags?.[flag];
    if (typeof fromFlag === 'string') return { value: fromFlag, source: `--${flag}` };
    const fromEnv = sources.env[env];
    return fromEnv === undefined || fromEnv === '' ? undefined : { value: fromEnv, source: env };
  };
  const integer = (key: keyof typeof settings, min: number, max: number, what: string) => {
    const setting = read(key);
    if (!setting) return undefined;
    const value = Number(setting.value);
    if (!/^\d+$/.test(setting.value.trim()) || value < min || value > max) {
      throw new GatewaySettingError(setting.source, `expected ${what}, got "${setting.value}"`);
    }
    return value;
  };
  const boolean = (key: keyof typeof settings) => {
    const setting = read(key);
    if (!setting) return undefined;
    const value = setting.value.trim().toLowerCase();
    if (value !== 'true' && value !== 'false') {
      throw new GatewaySettingError(setting.source, `expected true or false, got "${setting.value}"`);
    }
    return value === 'true';
  };
  const list = (key: keyof typeof settings) =>
    read(key)
      ?.value.split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');

  const staticSetting = read('staticDir');
  let staticDir: string | undefined;
  if (staticSetting) {
    staticDir = resolve(sources.cwd, staticSetting.value);
    let isDirectory = false;
    try {
      isDirectory = statSync(staticDir).isDirectory();
    } catch {
      // missing: reported below
    }
    if (!isDirectory) throw new GatewaySettingError(staticSetting.source, `${staticDir} is not a folder`);
  }
  const origins = list('corsOrigins');
  const milliseconds = (key: keyof typeof settings) =>
    integer(key, 1, 2 ** 31 - 1, 'a positive number of milliseconds');
  const connectionLimits = {
    headersTimeoutMs: milliseconds('headersTimeoutMs'),
    requestTimeoutMs: milliseconds('requestTimeoutMs'),
    keepAliveTimeoutMs: milliseconds('keepAliveTimeoutMs'),
    idleTimeoutMs: milliseconds('idleTimeoutMs'),
    maxConnections: integer('maxConnections', 1, 2 ** 31 - 1, 'a positive number of connections'),
  };
  try {
    resolveConnectionLimits(connectionLimits);
  } catch (error) {
    const { headersTimeoutMs, requestTimeoutMs } = settings;
    throw new GatewaySettingError(
      `--${headersTimeoutMs.flag}/${headersTimeoutMs.env} and --${requestTimeoutMs.flag}/${requestTimeoutMs.env}`,
      (error as Error).message,
    );
  }
  return {
    registry: sources.registry,
    logger: sources.logger,
    port: integer('port', 0, 65_535, 'a port number (0-65535)'),
    host: read('host')?.value,
    staticDir,
    cors: origins && origins.length > 0 ? { origins } : undefined,
    timeoutMs: integer('timeoutMs', 1, 2 ** 31 - 1, 'a positive number of milliseconds'),
    bodyLimitBytes: integer('bodyLimitBytes', 1, Number.MAX_SAFE_INTEGER, 'a positive number of bytes'),
    knownServices: list('knownServices'),
    opsPort: integer('opsPort', 0, 65_535, 'a port number (0-65535)'),
    connectionLimits,
    trustTraceparent: boolean('trustTraceparent'),
  };
}

/**
 * Starts a gateway, reports its URL, and stops it gracefully once `signal` aborts.
 * Resolves after the stop; rejects (with the gateway closed) when it cannot start.
 */
export async function runGateway(
  options: GatewayOptions,
  signal: AbortSignal,
  onListening?: (url: string) => void,
): Promise<void> {
  // Loaded here, not at the top, so `berth help` and the other commands don't pay for it.
  const { Gateway } = await import('./gateway.ts');
  const gateway = new Gateway(options);
  let address: { host: string; port: number };
  try {
    address = await gateway.start();
  } catch (error) {
    await gateway.stop(0);
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${options.host ?? '127.0.0.1'}:${options.port ?? 8080}`;
    if (code === 'EADDRINUSE') {
      throw new Error(
        `cannot listen on ${where}: the port is in use (choose another with --port or BERTH_GATEWAY_PORT)`,
      );
    }
    throw new Error(`cannot listen on ${where}: ${(error as Error).message}`);
  }
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  onListening?.(`http://${host}:${address.port}`);
  if (!signal.aborted) await new Promise((done) => signal.addEventListener('abort', done, { once: true }));
  await gateway.stop();
}

async function main(): Promise<number> {
  const stop = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals += 1;
    if (signals > 1) process.exit(1);
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const refuse = (error: unknown) => {
    process.stderr.write(`gateway: ${(error as Error).message}\n`);
    return 1;
  };
  let runtime: Runtime;
  try {
    runtime = await runtimeFromEnv(process.env);
  } catch (error) {
    return refuse(error);
  }
  let tracing: Tracing;
  try {
    tracing = await startTracing(process.env, { serviceName: 'gateway' });
  } catch (error) {
    await runtime.registry.close();
    return refuse(error);
  }
  try {
    const options = gatewayOptionsFrom({
      env: process.env,
      cwd: process.cwd(),
      registry: runtime.registry,
      logger: runtime.logger,
    });
    await runGateway(options, stop.signal);
    runtime.logger.info('gateway stopped');
    return 0;
  } catch (error) {
    runtime.logger.fatal((error as Error).message);
    return 1;
  } finally {
    try {
      await runtime.registry.close();
    } finally {
      // Exported even when the registry could not close.
      await tracing.shutdown();
    }
  }
}

if (import.meta.main) process.exitCode = await main();
