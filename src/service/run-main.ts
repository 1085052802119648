/**
 * Entry point of a service process. This is the one place, besides the CLI, that
 * reads the environment and calls process.exit: it builds the runtime a service
 * needs (registry, logger, address) from BERTH_* variables set by `berth run` or
 * a Kubernetes manifest, starts the service, and stops it on SIGTERM/SIGINT.
 *
 *   BERTH_REGISTRY       local (default) | memory | kubernetes | static
 *   BERTH_NAMESPACE, BERTH_SYSTEM, BERTH_KNOWN_SERVICES   for kubernetes and static
 *   BERTH_REGISTRY_DIR   folder of the local registry
 *   BERTH_HOST, PORT     where to listen (default 127.0.0.1, any free port)
 *   BERTH_ADVERTISE_HOST address others use (Kubernetes: the pod IP)
 *   BERTH_OPS_PORT       serve /healthz, /readyz, /metrics on this port only (Kubernetes: 9090)
 *   LOG_LEVEL, LOG_FORMAT=json|pretty
 *   OTEL_*              tracing (../telemetry/tracing.ts); service.name defaults to the service's name
 */
import type { Logger } from '../log/logger.ts';
import { loggerFromEnv } from '../log/logger.ts';
import { LocalRegistry } from '../registry/local-registry.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import type { Registry } from '../registry/registry.ts';
import { startTracing, type Tracing } from '../telemetry/tracing.ts';
import type { Service } from './service.ts';

export interface Runtime {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly host: string;
  readonly port: number;
  /** The ops endpoints' own port, when set (runMain gives it to the service's start()). */
  readonly opsPort?: number;
  readonly advertiseHost: string | undefined;
  /** BERTH_BROKER_TOKEN: `berth run`'s per-run secret, for DirectBrokerOptions.token. */
  readonly brokerToken?: string;
}

export async function runtimeFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Runtime> {
  const logger = loggerFromEnv(env, process.stdout.isTTY === true);
  return {
    env,
    registry: await registryFromEnv(env, logger),
    logger,
    host: env.BERTH_HOST ?? '127.0.0.1',
    port: portFromEnv(env),
    opsPort: env.BERTH_OPS_PORT === undefined ? undefined : portNumber('BERTH_OPS_PORT', env.BERTH_OPS_PORT),
    advertiseHost: env.BERTH_ADVERTISE_HOST,
    brokerToken: env.BERTH_BROKER_TOKEN || undefined,
  };
}

/** PORT (or BERTH_PORT), 0 when unset; anything but a port number is refused, naming the variable. */
function portFromEnv(env: Readonly<Record<string, string | undefined>>): number {
  const name = env.PORT !== undefined ? 'PORT' : env.BERTH_PORT !== undefined ? 'BERTH_PORT' : undefined;
  return name === undefined ? 0 : portNumber(name, env[name]!);
}

function portNumber(name: string, value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) {
    throw new Error(`${name}: expected a port number (0-65535), got "${value}"`);
  }
  return Number(value);
}

export async function registryFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  logger?: Logger,
): Promise<Registry> {
  const kind = env.BERTH_REGISTRY ?? 'local';
  switch (kind) {
    case 'local':
      return new LocalRegistry({ dir: env.BERTH_REGISTRY_DIR });
    case 'memory':
      return new MemoryRegistry();
    case 'kubernetes':
    case 'static': {
      // Loaded only here: the Kubernetes client is large and local processes never need it.
      const { KubeRegistry, StaticRegistry } = await import('../kube/kube-registry.ts');
      const namespace = env.BERTH_NAMESPACE ?? 'default';
      const system = env.BERTH_SYSTEM;
      if (!system) throw new Error(`BERTH_REGISTRY=${kind} needs BERTH_SYSTEM (the system name)`);
      if (kind === 'kubernetes') return new KubeRegistry({ namespace, system, logger });
      const services = (env.BERTH_KNOWN_SERVICES ?? '').split(',').filter((name) => name !== '');
      return new StaticRegistry({ services, namespace, system });
    }
    default:
      throw new Error(
        `BERTH_REGISTRY="${kind}" is not a registry berth knows; use local, memory, kubernetes or static`,
      );
  }
}

/**
 * Builds the service with `build`, starts tracing (when OTEL_* ask for it) and the
 * service, and stops both gracefully on SIGTERM/SIGINT (exit 0), the spans still
 * buffered exported first. A failure to build or start prints the reason and exits 1.
 */
export async function runMain(build: (runtime: Runtime) => Promise<Service> | Service): Promise<void> {
  let runtime: Runtime;
  try {
    runtime = await runtimeFromEnv();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  let service: Service;
  let tracing: Tracing;
  try {
    service = await build(runtime);
    // After build: the service's name is the default service.name. Spans need none before start().
    tracing = await startTracing(runtime.env, { serviceName: service.name });
    await service.start({ opsPort: runtime.opsPort });
  } catch (error) {
    runtime.logger.fatal({ err: error }, (error as Error).message);
    // Give pino's transport a moment to flush before leaving.
    setTimeout(() => process.exit(1), 100);
    return;
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      runtime.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    runtime.logger.info({ signal }, 'stopping');
    // Each step runs whether the one before failed or not: the buffered spans are exported
    // even when the service could not stop cleanly (they may say why).
    void (async () => {
      let failed = false;
      for (const step of [() => service.stop(), () => runtime.registry.close(), () => tracing.shutdown()]) {
        try {
          await step();
        } catch (error) {
          failed = true;
          runtime.logger.error({ err: error }, 'stop failed');
        }
      }
      process.exit(failed ? 1 : 0);
    })();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Started by `berth run` (BERTH_INSTANCE set): if the runner dies without stopping
  // its children (SIGKILL, closed terminal), this process is re-parented; stop then
  // rather than live on as an orphan holding ports and registry entries.
  if (process.env.BERTH_INSTANCE) {
    const parent = process.ppid;
    const orphanCheck = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(orphanCheck);
      onSignal('SIGTERM');
    }, 1000).unref();
  }
}
