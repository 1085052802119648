/**
 * Discovery on Kubernetes: the ready endpoints of the system's Services, read from
 * EndpointSlices through the API (informer: list → watch → cache). Kubernetes
 * owns membership — a pod is in while it is Ready and not terminating — so
 * register/deregister do nothing here, as in go-micro's kubernetes registry which
 * relied on pod lifecycle. Client-side balancing matters on Kubernetes because
 * kube-proxy balances connections, and one HTTP/2 connection sticks to one pod.
 *
 * What an instance serves comes from its Service's `berth.dev/proto-services`
 * annotation (written by `berth manifests`): slices copy a Service's labels, not
 * its annotations, so the Services are watched too. Typed clients and the
 * gateway's pass-through pick instances by proto service.
 *
 * Canaries: a pod named `<service>-canary-…` (the `<service>-canary` Deployment
 * of `berth canary`) is `metadata.track = 'canary'`, every other pod 'stable';
 * while the Service carries `berth.dev/canary-weight`, its instances carry it as
 * `metadata.canaryWeight`, and callers send that share of calls to the canary
 * (src/balancer/canary-split.ts).
 *
 * Ops endpoints: berth's pods serve /healthz, /readyz and /metrics on a port of
 * their own that their Service does not expose; its `berth.dev/ops-port`
 * annotation (or a Service port named `ops`, which the slices then list) gives
 * it to callers as `metadata.opsPort`.
 */

import { isDeepStrictEqual } from 'node:util';
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type V1EndpointSlice,
  type V1Service,
} from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { framesMetadataKey } from '../protocol/frames.ts';
import {
  opsPortMetadataKey,
  type Registry,
  type RegistryEvent,
  type ServiceInstance,
  type WatchOptions,
} from '../registry/registry.ts';
import { WatchHub } from '../registry/watch-hub.ts';
import {
  callableServiceLabels,
  canaryWeightAnnotation,
  labelSelector,
  opsPortAnnotation,
  protoServicesAnnotation,
} from './object-meta.ts';
import { RestartingInformer } from './restarting-informer.ts';

export interface KubeRegistryOptions {
  readonly kubeConfig?: KubeConfig;
  readonly namespace: string;
  /** Only the system's services: Services labelled `app.kubernetes.io/part-of=<system>` and `component=service`. */
  readonly system: string;
  readonly logger?: Logger;
}

const serviceNameLabel = 'kubernetes.io/service-name';

/** Instances of the ready endpoints of one slice, before their proto services are known (exported for tests). */
export function instancesOfSlice(slice: V1EndpointSlice): ServiceInstance[] {
  const labels = slice.metadata?.labels ?? {};
  const name = labels[serviceNameLabel];
  if (!name) return [];
  const port = slice.ports?.find((candidate) => candidate.name === 'http2')?.port ?? slice.ports?.[0]?.port;
  if (port === undefined) return [];
  const opsPort = slice.ports?.find((candidate) => candidate.name === 'ops')?.port;
  const instances: ServiceInstance[] = [];
  for (const endpoint of slice.endpoints ?? []) {
    // A nil `ready` means ready; terminating endpoints are never offered.
    if (endpoint.conditions?.ready === false || endpoint.conditions?.terminating === true) continue;
    const address = endpoint.addresses[0];
    if (!address) continue;
    const host = address.includes(':') ? `[${address}]` : address;
    const pod = endpoint.targetRef?.name ?? '';
    instances.push({
      id: `${name}/${endpoint.targetRef?.name ?? address}`,
      name,
      system: labels['app.kubernetes.io/part-of'],
      version: labels['app.kubernetes.io/version'] ?? '',
      address: `${host}:${port}`,
      protoServices: [],
      // Endpoints of the system's labelled Services are berth services: they accept frames.
      metadata: {
        [framesMetadataKey]: '1',
        pod,
        node: endpoint.nodeName ?? '',
        zone: endpoint.zone ?? '',
        track: pod.startsWith(`${name}-canary-`) ? 'canary' : 'stable',
        ...(opsPort === undefined ? {} : { [opsPortMetadataKey]: String(opsPort) }),
      },
    });
  }
  return instances;
}

/** What the registry reads from a Service for its pods. */
export interface ServiceInfo {
  readonly protoServices: readonly string[];
  /** `berth.dev/canary-weight`, as written (a percentage), when a canary runs. */
  readonly canaryWeight?: string;
  /** `berth.dev/ops-port`, when it is a port number. */
  readonly opsPort?: string;
}

/** Exported for tests. */
export function infoOfService(service: V1Service): ServiceInfo {
  const weight = service.metadata?.annotations?.[canaryWeightAnnotation]?.trim();
  const opsPort = service.metadata?.annotations?.[opsPortAnnotation]?.trim();
  return {
    protoServices: protoServicesOfService(service),
    ...(weight ? { canaryWeight: weight } : {}),
    ...(opsPort && /^\d{1,5}$/.test(opsPort) ? { opsPort } : {}),
  };
}

/** `a.B,c.D` → `['a.B', 'c.D']`; a Service without the annotation serves none. */
function protoServicesOfService(service: V1Service): string[] {
  const annotation = service.metadata?.annotations?.[protoServicesAnnotation] ?? '';
  return annotation
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/**
 * An endpoint's instance with what its Service says of its pods: the proto
 * services they serve, the canary weight and their ops port (a port the slice
 * lists wins). Exported for tests.
 */
export function withServiceInfo(instance: ServiceInstance, info: ServiceInfo | undefined): ServiceInstance {
  const opsPort = instance.metadata[opsPortMetadataKey] === undefined ? info?.opsPort : undefined;
  return {
    ...instance,
    protoServices: info?.protoServices ?? [],
    metadata:
      info?.canaryWeight === undefined && opsPort === undefined
        ? instance.metadata
        : {
            ...instance.metadata,
            ...(info?.canaryWeight === undefined ? {} : { canaryWeight: info.canaryWeight }),
            ...(opsPort === undefined ? {} : { [opsPortMetadataKey]: opsPort }),
          },
  };
}

const objectKey = (object: V1EndpointSlice | V1Service) =>
  `${object.metadata?.namespace}/${object.metadata?.name}`;

export class KubeRegistry implements Registry {
  readonly #options: KubeRegistryOptions;
  readonly #kubeConfig: KubeConfig;
  readonly #hub = new WatchHub();
  /** Endpoints by slice (namespace/name), so a slice update replaces exactly its own. */
  readonly #bySlice = new Map<string, ServiceInstance[]>();
  /** What each Service's pods serve (and its canary weight), by Service name. */
  readonly #services = new Map<string, ServiceInfo>();
  readonly #informers: Array<RestartingInformer<V1EndpointSlice> | RestartingInformer<V1Service>> = [];
  #started: Promise<void> | undefined;

  constructor(options: KubeRegistryOptions) {
    this.#options = options;
    this.#kubeConfig = options.kubeConfig ?? defaultKubeConfig();
  }

  async register(): Promise<void> {}

  async deregister(): Promise<void> {}

  async list(name?: string): Promise<ServiceInstance[]> {
    await this.#start();
    const all = this.#withProtoServices([...this.#bySlice.values()].flat());
    return name === undefined ? all : all.filter((instance) => instance.name === name);
  }

  watch(options: WatchOptions = {}): AsyncIterable<RegistryEvent> {
    return this.#hub.watch(options, () => this.list());
  }

  async close(): Promise<void> {
    await Promise.all(this.#informers.map((informer) => informer.stop()));
    this.#hub.endAll();
  }

  #start(): Promise<void> {
    this.#started ??= this.#startInformers();
    return this.#started;
  }

  async #startInformers(): Promise<void> {
    const { namespace, system, logger } = this.#options;
    const kubeConfig = this.#kubeConfig;
    // The gateway and the stateful resources (postgres, nats) are no services to call, so they stay out.
    const selector = labelSelector(callableServiceLabels(system));
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const services = new RestartingInformer<V1Service>({
      kubeConfig,
      path: `/api/v1/namespaces/${namespace}/services`,
      labelSelector: selector,
      list: () => core.listNamespacedService({ namespace, labelSelector: selector }),
      kind: 'Service',
      logger,
      onUpsert: (service) => this.#setServiceInfo(service.metadata?.name, infoOfService(service)),
      onDelete: (service) => this.#setServiceInfo(service.metadata?.name, undefined),
    });
    const slices = new RestartingInformer<V1EndpointSlice>({
      kubeConfig,
      path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      labelSelector: selector,
      list: () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector: selector }),
      kind: 'EndpointSlice',
      logger,
      onUpsert: (slice) => this.#setSlice(objectKey(slice), instancesOfSlice(slice)),
      onDelete: (slice) => this.#setSlice(objectKey(slice), []),
    });
    this.#informers.push(services, slices);
    // Services first, so instances carry their proto services from their first add.
    await services.start();
    await slices.start();
  }

  /** The instances as they are offered: with what their Service says of its pods. */
  #withProtoServices(instances: readonly ServiceInstance[]): ServiceInstance[] {
    return instances.map((instance) => withServiceInfo(instance, this.#services.get(instance.name)));
  }

  #setSlice(sliceKey: string, next: ServiceInstance[]): void {
    const before = this.#withProtoServices(this.#bySlice.get(sliceKey) ?? []);
    if (next.length === 0) this.#bySlice.delete(sliceKey);
    else this.#bySlice.set(sliceKey, next);
    this.#emitChanges(before, this.#withProtoServices(next));
  }

  #setServiceInfo(serviceName: string | undefined, info: ServiceInfo | undefined): void {
    if (serviceName === undefined) return;
    const endpoints = [...this.#bySlice.values()].flat().filter((instance) => instance.name === serviceName);
    const before = this.#withProtoServices(endpoints);
    if (info === undefined) this.#services.delete(serviceName);
    else this.#services.set(serviceName, info);
    this.#emitChanges(before, this.#withProtoServices(endpoints));
  }

  /** A changed instance (new address, new proto services) is removed, then added again as it is now. */
  #emitChanges(before: readonly ServiceInstance[], after: readonly ServiceInstance[]): void {
    const afterById = new Map(after.map((instance) => [instance.id, instance]));
    const beforeById = new Map(before.map((instance) => [instance.id, instance]));
    for (const instance of before) {
      if (!isDeepStrictEqual(afterById.get(instance.id), instance))
        this.#hub.emit({ type: 'remove', instance });
    }
    for (const instance of after) {
      if (!isDeepStrictEqual(beforeById.get(instance.id), instance))
        this.#hub.emit({ type: 'add', instance });
    }
  }
}

/**
 * go-micro's static selector: `<service>.<namespace>.svc:<port>` and Kubernetes
 * balances. Simple, but one HTTP/1.1 keep-alive pool per Service address means
 * connections, not requests, are spread over pods.
 */
export class StaticRegistry implements Registry {
  readonly #instances: ServiceInstance[];

  constructor(options: { services: readonly string[]; namespace: string; system?: string; port?: number }) {
    this.#instances = options.services.map((name) => ({
      id: `${name}.${options.namespace}`,
      name,
      system: options.system,
      version: '',
      address: `${name}.${options.namespace}.svc:${options.port ?? 8080}`,
      protoServices: [],
      metadata: {},
    }));
  }

  async register(): Promise<void> {}

  async deregister(): Promise<void> {}

  async list(name?: string): Promise<ServiceInstance[]> {
    return this.#instances.filter((instance) => name === undefined || instance.name === name);
  }

  async *watch(options: WatchOptions = {}): AsyncGenerator<RegistryEvent> {
    for (const instance of await this.list(options.name)) yield { type: 'add', instance };
    if (options.signal && !options.signal.aborted) {
      await new Promise((resolve) => options.signal!.addEventListener('abort', resolve, { once: true }));
    }
  }

  async close(): Promise<void> {}
}

/** In a pod: the service account; elsewhere: KUBECONFIG or ~/.kube/config. */
function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}
