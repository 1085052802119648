/**
 * berth's public API (`import { Service, runMain } from 'berth'`): services, clients,
 * registries, errors, config, logging and the gateway. Events and storage are
 * subpaths (`berth/broker`, `berth/store`), so a service that uses neither never
 * loads their clients (NATS, undici, pg).
 */
export type { Balancer, BalancerName, CallOutcome } from './balancer/balancer.ts';
export { createBalancer } from './balancer/create-balancer.ts';
export { type CallerOptions, type CallRequest, type CallResponse, ServiceCaller } from './client/caller.ts';
export {
  type CallOptions,
  createTypedClient,
  type TypedClient,
  type TypedClientOptions,
} from './client/typed-client.ts';
export { ConfigError } from './config/config-error.ts';
export { type LoadConfigOptions, loadConfig } from './config/load-config.ts';
export { currentRequest, type RequestContext } from './context/request-context.ts';
export { Code, ConnectError, fail, toConnectError } from './errors/berth-error.ts';
export { Gateway, type GatewayOptions } from './gateway/gateway.ts';
export type { Readiness, ReadinessCheck } from './health/health.ts';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './log/logger.ts';
export { LocalRegistry, type LocalRegistryOptions } from './registry/local-registry.ts';
export { MemoryRegistry } from './registry/memory-registry.ts';
export type { Registry, RegistryEvent, ServiceInstance, WatchOptions } from './registry/registry.ts';
export { RegistryCache } from './registry/registry-cache.ts';
export { type Runtime, runMain, runtimeFromEnv } from './service/run-main.ts';
export { Service, type ServiceOptions } from './service/service.ts';
export { startTracing, type Tracing } from './telemetry/tracing.ts';
export { TracingSettingError } from './telemetry/tracing-env.ts';
