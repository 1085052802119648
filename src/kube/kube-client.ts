/**
 * A thin Kubernetes REST client for what `berth deploy` and the day-two commands
 * do: server-side apply, get, list, delete, patch, create, evict. Hand-written on purpose: client-node's
 * KubernetesObjectApi sends objects through its ObjectSerializer, which maps
 * fields via its model classes (`from` must be spelled `_from`) and silently
 * drops fields it does not know — so the API server would never see, and never
 * reject, exactly what berth rendered. Here objects travel as JSON, unchanged.
 * Credentials and TLS come from client-node's KubeConfig (kubeconfig or in-cluster).
 */
import type { RequestOptions } from 'node:https';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { fieldManager } from './manifests.ts';

interface ResourceKind {
  readonly plural: string;
  readonly namespaced: boolean;
}

/** The kinds berth renders or reads, by `apiVersion/kind`. */
const kinds: Record<string, ResourceKind> = {
  'v1/Namespace': { plural: 'namespaces', namespaced: false },
  'v1/Node': { plural: 'nodes', namespaced: false },
  'v1/ServiceAccount': { plural: 'serviceaccounts', namespaced: true },
  'v1/ConfigMap': { plural: 'configmaps', namespaced: true },
  'v1/Secret': { plural: 'secrets', namespaced: true },
  'v1/Service': { plural: 'services', namespaced: true },
  'v1/Pod': { plural: 'pods', namespaced: true },
  'v1/Event': { plural: 'events', namespaced: true },
  'v1/ResourceQuota': { plural: 'resourcequotas', namespaced: true },
  'apps/v1/Deployment': { plural: 'deployments', namespaced: true },
  'apps/v1/ReplicaSet': { plural: 'replicasets', namespaced: true },
  'apps/v1/StatefulSet': { plural: 'statefulsets', namespaced: true },
  'batch/v1/Job': { plural: 'jobs', namespaced: true },
  'policy/v1/PodDisruptionBudget': { plural: 'poddisruptionbudgets', namespaced: true },
  'autoscaling/v2/HorizontalPodAutoscaler': { plural: 'horizontalpodautoscalers', namespaced: true },
  'rbac.authorization.k8s.io/v1/Role': { plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { plural: 'rolebindings', namespaced: true },
  'networking.k8s.io/v1/NetworkPolicy': { plural: 'networkpolicies', namespaced: true },
  'networking.k8s.io/v1/Ingress': { plural: 'ingresses', namespaced: true },
  'gateway.networking.k8s.io/v1/HTTPRoute': { plural: 'httproutes', namespaced: true },
  'discovery.k8s.io/v1/EndpointSlice': { plural: 'endpointslices', namespaced: true },
  'coordination.k8s.io/v1/Lease': { plural: 'leases', namespaced: true },
};

export class KubeApiError extends Error {
  readonly status: number;
  /** The Status object's reason (`NotFound`, `Invalid`, …), or `Unknown`. */
  readonly reason: string;
  /** The API server's own message, without the request in front. */
  readonly detail: string;
  constructor(status: number, reason: string, detail: string, request: string) {
    super(`${request}: ${status} ${reason}: ${detail}`);
    this.status = status;
    this.reason = reason;
    this.detail = detail;
  }
}

export interface KubeClientOptions {
  readonly kubeConfig?: KubeConfig;
  /** kubeconfig context; default: the current one. */
  readonly context?: string;
}

export interface ListResult<T> {
  readonly items: T[];
  readonly metadata?: { resourceVersion?: string };
}

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  readonly server: string;
  readonly #headers: Record<string, string>;
  readonly #dispatcher: Agent;

  private constructor(
    kubeConfig: KubeConfig,
    server: string,
    headers: Record<string, string>,
    dispatcher: Agent,
  ) {
    this.kubeConfig = kubeConfig;
    this.server = server;
    this.#headers = headers;
    this.#dispatcher = dispatcher;
  }

  static async connect(options: KubeClientOptions = {}): Promise<KubeClient> {
    const kubeConfig = options.kubeConfig ?? new KubeConfig();
    if (!options.kubeConfig) kubeConfig.loadFromDefault();
    if (options.context) {
      // client-node takes any name here; a mistyped one would surface as "no cluster configured".
      if (!kubeConfig.getContextObject(options.context)) {
        const known = kubeConfig.getContexts().map((context) => context.name);
        throw new Error(
          `the kubeconfig has no context "${options.context}"; it has: ${known.join(', ') || 'none'}`,
        );
      }
      kubeConfig.setCurrentContext(options.context);
    }
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) {
      throw new Error(
        'no Kubernetes cluster configured: set KUBECONFIG, pass --context, or run inside a cluster',
      );
    }
    const tls: RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(tls);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(tls.headers ?? {})) {
      if (typeof value === 'string') headers[name.toLowerCase()] = value;
    }
    const dispatcher = new Agent({
      connect: {
        ca: tls.ca as string | undefined,
        cert: tls.cert as string | undefined,
        key: tls.key as string | undefined,
        rejectUnauthorized: !cluster.skipTLSVerify,
      },
    });
    return new KubeClient(kubeConfig, cluster.server.replace(/\/$/, ''), headers, dispatcher);
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  /** `/api/v1/namespaces/ns/pods/name` and the like. */
  path(apiVersion: string, kind: string, namespace?: string, name?: string): string {
    const resource = kinds[`${apiVersion}/${kind}`];
    if (!resource) throw new Error(`berth does not know the resource ${apiVersion} ${kind}`);
    const group = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const scope = resource.namespaced ? `/namespaces/${namespace ?? 'default'}` : '';
    return `${group}${scope}/${resource.plural}${name ? `/${name}` : ''}`;
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const text = await this.requestText(method, path, body, contentType);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** The answer as text (pod logs are plain text); API errors become KubeApiError. */
  async requestText(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<string> {
    const response = await request(`${this.server}${path}`, {
      method: method as 'GET',
      headers: {
        ...this.#headers,
        accept: 'application/json, */*',
        ...(body !== undefined ? { 'content-type': contentType } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.#dispatcher,
    });
    const text = await response.body.text();
    if (response.statusCode >= 400) {
      let reason = 'Unknown';
      let message = text;
      try {
        const status = JSON.parse(text) as { reason?: string; message?: string };
        reason = status.reason ?? reason;
        message = status.message ?? message;
      } catch {
        // not a Status object
      }
      throw new KubeApiError(response.statusCode, reason, message.trim(), `${method} ${path}`);
    }
    return text;
  }

  /**
   * Server-side apply as field manager `berth` (or `options.fieldManager`); `dryRun`
   * asks the server to validate only.
   */
  apply<T extends KubernetesObject>(
    object: T,
    options: { dryRun?: boolean; fieldManager?: string } = {},
  ): Promise<T> {
    const name = object.metadata?.name;
    if (!name) throw new Error(`${object.kind} without metadata.name`);
    const query = `?fieldManager=${options.fieldManager ?? fieldManager}&force=true&fieldValidation=Strict${options.dryRun ? '&dryRun=All' : ''}`;
    const path = this.path(object.apiVersion!, object.kind!, object.metadata?.namespace, name) + query;
    return this.request<T>('PATCH', path, object, 'application/apply-patch+yaml');
  }

  async get<T>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', this.path(apiVersion, kind, namespace, name));
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  list<T>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    labelSelector?: string,
  ): Promise<ListResult<T>> {
    const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    return this.request<ListResult<T>>('GET', this.path(apiVersion, kind, namespace) + query);
  }

  async delete(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void> {
    try {
      await this.request('DELETE', this.path(apiVersion, kind, namespace, name), {
        propagationPolicy: 'Background',
      });
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 404)) throw error;
    }
  }

  /** JSON merge patch (RFC 7386): lists are replaced whole. */
  mergePatch<T>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    patch: unknown,
  ): Promise<T> {
    return this.request<T>(
      'PATCH',
      `${this.path(apiVersion, kind, namespace, name)}?fieldManager=${fieldManager}`,
      patch,
      'application/merge-patch+json',
    );
  }

  /** JSON patch (RFC 6902), e.g. replacing a Deployment's pod template exactly. */
  jsonPatch<T>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    operations: unknown[],
  ): Promise<T> {
    return this.request<T>(
      'PATCH',
      `${this.path(apiVersion, kind, namespace, name)}?fieldManager=${fieldManager}`,
      operations,
      'application/json-patch+json',
    );
  }

  create<T extends KubernetesObject>(object: T): Promise<T> {
    return this.request<T>(
      'POST',
      `${this.path(object.apiVersion!, object.kind!, object.metadata?.namespace)}?fieldManager=${fieldManager}`,
      object,
    );
  }

  /**
   * Asks to evict a pod, as `kubectl drain` does: the API server honours its
   * PodDisruptionBudgets. `blocked` (429) means a budget allows no disruption
   * right now; ask again once replacements are ready. A pod already gone counts
   * as evicted.
   */
  async evict(namespace: string, pod: string): Promise<'evicted' | 'blocked'> {
    const eviction = {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: pod, namespace },
    };
    try {
      await this.request('POST', `${this.path('v1', 'Pod', namespace, pod)}/eviction`, eviction);
      return 'evicted';
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 429) return 'blocked';
      if (error instanceof KubeApiError && error.status === 404) return 'evicted';
      throw error;
    }
  }
}
