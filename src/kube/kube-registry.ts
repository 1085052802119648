/**
 * Discovery on Kubernetes: the ready endpoints of the system's Services, read from
 * EndpointSlices through the API (informer: list → watch → cache). Kubernetes
 * owns membership — a pod is in while it is Ready and not terminating — so
 * register/deregister do nothing here, as in go-micro's kubernetes registry which
 * relied on pod lifecycle. Client-side balancing matters on Kubernetes because
 * kube-proxy balances connections, and one HTTP/2 connection sticks to one pod.
 *
 * client-node's informer stops on errors other than 410 Gone
 * (kubernetes-client/javascript#795), so it is restarted here with backoff.
 */

import { DiscoveryV1Api, KubeConfig, makeInformer, type V1EndpointSlice } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { framesMetadataKey } from '../protocol/frames.ts';
import type { Registry, RegistryEvent, ServiceInstance, WatchOptions } from '../registry/registry.ts';
import { WatchHub } from '../registry/watch-hub.ts';

export interface KubeRegistryOptions {
  readonly kubeConfig?: KubeConfig;
  readonly namespace: string;
  /** Only the system's services: Services labelled `app.kubernetes.io/part-of=<system>` and `component=service`. */
  readonly system: string;
  readonly logger?: Logger;
}

const serviceNameLabel = 'kubernetes.io/service-name';

/** Instances of the ready endpoints of one slice. */
function instancesOfSlice(slice: V1EndpointSlice): ServiceInstance[] {
  const labels = slice.metadata?.labels ?? {};
  const name = labels[serviceNameLabel];
  if (!name) return [];
  const port = slice.ports?.find((candidate) => candidate.name === 'http2')?.port ?? slice.ports?.[0]?.port;
  if (port === undefined) return [];
  const instances: ServiceInstance[] = [];
  for (const endpoint of slice.endpoints ?? []) {
    // A nil `ready` means ready; terminating endpoints are never offered.
    if (endpoint.conditions?.ready === false || endpoint.conditions?.terminating === true) continue;
    const address = endpoint.addresses[0];
    if (!address) continue;
    const host = address.includes(':') ? `[${address}]` : address;
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
        pod: endpoint.targetRef?.name ?? '',
        node: endpoint.nodeName ?? '',
        zone: endpoint.zone ?? '',
      },
    });
  }
  return instances;
}

export class KubeRegistry implements Registry {
  readonly #options: KubeRegistryOptions;
  readonly #kubeConfig: KubeConfig;
  readonly #hub = new WatchHub();
  /** Instances by slice (namespace/name), so a slice update replaces exactly its own. */
  readonly #bySlice = new Map<string, ServiceInstance[]>();
  #informer: ReturnType<typeof makeInformer<V1EndpointSlice>> | undefined;
  #started: Promise<void> | undefined;
  #closed = false;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(options: KubeRegistryOptions) {
    this.#options = options;
    this.#kubeConfig = options.kubeConfig ?? defaultKubeConfig();
  }

  async register(): Promise<void> {}

  async deregister(): Promise<void> {}

  async list(name?: string): Promise<ServiceInstance[]> {
    await this.#start();
    const all = [...this.#bySlice.values()].flat();
    return name === undefined ? all : all.filter((instance) => instance.name === name);
  }

  watch(options: WatchOptions = {}): AsyncIterable<RegistryEvent> {
    return this.#hub.watch(options, () => this.list());
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    await this.#informer?.stop();
    this.#hub.endAll();
  }

  #start(): Promise<void> {
    this.#started ??= this.#startInformer();
    return this.#started;
  }

  async #startInformer(): Promise<void> {
    const { namespace, system } = this.#options;
    const api = this.#kubeConfig.makeApiClient(DiscoveryV1Api);
    // EndpointSlices carry their Service's labels. The gateway and the stateful
    // resources (postgres, nats) are no services to call, so they stay out.
    const labelSelector = `app.kubernetes.io/part-of=${system},app.kubernetes.io/component=service`;
    const informer = makeInformer<V1EndpointSlice>(
      this.#kubeConfig,
      `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      // The backoff resets on a list that succeeds: client-node emits 'connect'
      // before it lists, so resetting there kept a refused (403) watch at ~1 s forever.
      () =>
        api.listNamespacedEndpointSlice({ namespace, labelSelector }).then((list) => {
          this.#failures = 0;
          return list;
        }),
      labelSelector,
    );
    const key = (slice: V1EndpointSlice) => `${slice.metadata?.namespace}/${slice.metadata?.name}`;
    const update = (slice: V1EndpointSlice) => this.#replace(key(slice), instancesOfSlice(slice));
    informer.on('add', update);
    informer.on('update', update);
    informer.on('delete', (slice) => this.#replace(key(slice), []));
    informer.on('error', (error: unknown) => {
      if (this.#closed) return;
      this.#failures += 1;
      const delay = Math.min(30_000, 500 * 2 ** this.#failures) * (0.5 + Math.random() / 2);
      this.#options.logger?.warn(
        { err: error, retryInMs: Math.round(delay) },
        'EndpointSlice watch failed; restarting',
      );
      this.#restartTimer = setTimeout(() => void informer.start().catch(() => {}), delay);
    });
    this.#informer = informer;
    await informer.start();
  }

  #replace(sliceKey: string, next: ServiceInstance[]): void {
    const previous = this.#bySlice.get(sliceKey) ?? [];
    if (next.length === 0) this.#bySlice.delete(sliceKey);
    else this.#bySlice.set(sliceKey, next);
    const nextIds = new Map(next.map((instance) => [instance.id, instance]));
    for (const instance of previous) {
      const replacement = nextIds.get(instance.id);
      if (!replacement || replacement.address !== instance.address)
        this.#hub.emit({ type: 'remove', instance });
    }
    const previousIds = new Map(previous.map((instance) => [instance.id, instance]));
    for (const instance of next) {
      const before = previousIds.get(instance.id);
      if (!before || before.address !== instance.address) this.#hub.emit({ type: 'add', instance });
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
