/**
 * Registry: who serves what, where. A small seam as in go-micro's
 * registry.Registry, without its globals: implementations are passed in.
 *
 *  - memory-registry.ts: one process, for tests.
 *  - local-registry.ts: every process on this machine, through a shared folder.
 *  - ../kube/kube-registry.ts: EndpointSlices through the Kubernetes API.
 */

/** One running process that serves a service. */
export interface ServiceInstance {
  /** Unique per process and start, e.g. `vessel-7f3a9c`. */
  readonly id: string;
  /** Short name used to call it, e.g. `vessel`. */
  readonly name: string;
  /** System it belongs to, e.g. `shippy`; `<system>.<name>` also resolves to it. */
  readonly system?: string;
  readonly version: string;
  /** `host:port` of its HTTP endpoint (Connect, gRPC, gRPC-Web, health, metrics). */
  readonly address: string;
  /** Fully-qualified proto services it serves, e.g. `shippy.vessel.v1.VesselService`. */
  readonly protoServices: readonly string[];
  /** Unary methods it serves, as `<Service>.<Method>` (`VesselService.Create`), as go-micro's endpoints. */
  readonly endpoints?: readonly string[];
  /**
   * Those of `endpoints` whose proto method declares an idempotency level (no side
   * effects, or idempotent): callers that know only the name, as the gateway, may
   * then retry them on another instance when a connection breaks mid-call.
   */
  readonly idempotentEndpoints?: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * `metadata.opsPort` of an instance whose /healthz, /readyz and /metrics are on a port
 * of their own rather than on its address (Kubernetes: 9090).
 */
export const opsPortMetadataKey = 'opsPort';

export type RegistryEvent =
  | { readonly type: 'add'; readonly instance: ServiceInstance }
  | { readonly type: 'remove'; readonly instance: ServiceInstance };

export interface WatchOptions {
  /** Only instances of this service; all when omitted. */
  readonly name?: string;
  readonly signal?: AbortSignal;
}

export interface Registry {
  register(instance: ServiceInstance, signal?: AbortSignal): Promise<void>;
  deregister(id: string, signal?: AbortSignal): Promise<void>;
  /** Instances currently known, of one service or of all. */
  list(name?: string, signal?: AbortSignal): Promise<ServiceInstance[]>;
  /**
   * An `add` for every instance present when the watch starts, then changes as they
   * happen. Ends when the signal aborts or the registry closes.
   */
  watch(options?: WatchOptions): AsyncIterable<RegistryEvent>;
  close(): Promise<void>;
}

/** `shippy.vessel` and `vessel` name the same service of system `shippy`. */
export function matchesName(instance: ServiceInstance, name: string): boolean {
  return (
    instance.name === name ||
    (instance.system !== undefined && `${instance.system}.${instance.name}` === name)
  );
}
