/**
 * What `berth manifests` renders and `berth deploy` applies (DESIGN.md §4), as
 * plain Kubernetes objects built from the system file. Deterministic: the same
 * system file and tags give the same objects in the same order, key for key.
 *
 * Per service: ServiceAccount, RoleBinding (to the system's discovery Role; only
 * for a service that watches the API, i.e. uses the kubernetes registry: the others'
 * pods mount no token),
 * ConfigMap (its env), Service (named h2c port, annotated with the proto services
 * it serves), Deployment and, when replicas > 1, PodDisruptionBudget (workload.ts);
 * with `autoscale`, a HorizontalPodAutoscaler (autoscaler.ts), and a PDB when its min > 1.
 * Per system: Namespace, discovery Role, NetworkPolicies (network-policies.ts),
 * PostgreSQL and NATS StatefulSets with headless Services (stateful-resources.ts;
 * unless external URLs are configured), and the gateway (with `gateway.ingress`, an
 * Ingress to it: ingress.ts; with `gateway.httpRoute`, an HTTPRoute: http-route.ts).
 *
 * Every berth process serves its calls on port `http2` (8080) and /healthz,
 * /readyz and /metrics only on port `ops` (9090, BERTH_OPS_PORT); no Service
 * exposes the ops port, so it is never reachable through the gateway's
 * LoadBalancer or a Service address.
 */
import type {
  KubernetesObject,
  V1ConfigMap,
  V1EnvVar,
  V1Namespace,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { gatewaySettingsEnv } from '../config/gateway-env.ts';
import type { ServiceSpec, SystemFile } from '../config/system-file.ts';
import { horizontalPodAutoscaler } from './autoscaler.ts';
import { databaseSecret, databaseUsers, renderDatabaseRoles } from './database-roles.ts';
import { gatewayHttpRoute } from './http-route.ts';
import { embeddedPostgres, inCluster, natsUrl, postgresSecret } from './in-cluster.ts';
import { gatewayIngress, gatewayServicePort, gatewayServiceType } from './ingress.ts';
import { natsSecret, natsUsers } from './nats-users.ts';
import { networkPolicies } from './network-policies.ts';
import {
  labelsFor,
  managedBy,
  namespaced,
  opsPortAnnotation,
  protoServicesAnnotation,
  selectorFor,
} from './object-meta.ts';
import { protoServicesOf } from './proto-services.ts';
import { renderResources } from './stateful-resources.ts';
import {
  deployment,
  disruptionBudget,
  opsPort,
  podPort,
  secretsName,
  type WorkloadOptions,
} from './workload.ts';

export const fieldManager = 'berth';

export interface RenderOptions extends WorkloadOptions {
  /** Image tag per service name, plus `gateway`. */
  readonly tags: Readonly<Record<string, string>>;
  /** Names that are canaries: `<name>-canary` Deployments with their own tag. */
  readonly canaries?: Readonly<Record<string, { readonly tag: string; readonly replicas: number }>>;
}

function serviceEnv(system: SystemFile, service: ServiceSpec): V1EnvVar[] {
  const env: V1EnvVar[] = [
    { name: 'PORT', value: String(podPort) },
    { name: 'BERTH_OPS_PORT', value: String(opsPort) },
    { name: 'BERTH_HOST', value: '0.0.0.0' },
    { name: 'BERTH_ADVERTISE_HOST', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'BERTH_REGISTRY', value: 'kubernetes' },
    { name: 'BERTH_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'BERTH_SYSTEM', value: system.system },
    { name: 'BERTH_ENV', value: system.environment },
    { name: 'BERTH_DATA_DIR', value: '/tmp/berth' },
    { name: 'LOG_FORMAT', value: 'json' },
  ];
  const postgres = system.resources.postgres;
  if (service.uses.includes('postgres')) {
    env.push(
      postgres?.url !== undefined
        ? { name: 'DATABASE_URL', value: postgres.url }
        : {
            name: 'DATABASE_URL',
            // In-cluster: the service's own role (database-roles.ts), not the superuser.
            valueFrom: {
              secretKeyRef: postgres?.urlSecret ?? { name: databaseSecret(service.name), key: 'url' },
            },
          },
    );
  }
  const natsUrlSecret = system.resources.nats?.urlSecret;
  if (service.uses.includes('nats')) {
    // In-cluster: the service's own NATS user (nats-users.ts).
    const secretKeyRef =
      natsUrlSecret ??
      (inCluster(system, 'nats') ? { name: natsSecret(service.name), key: 'url' } : undefined);
    if (secretKeyRef) env.push({ name: 'NATS_URL', valueFrom: { secretKeyRef } });
    else env.push({ name: 'NATS_URL', value: natsUrl(system)! });
  }
  // The service's own `env` (its ConfigMap, loaded with envFrom) must win, e.g.
  // BERTH_REGISTRY: static; an `env` entry would shadow it, so leave those out.
  return env.filter((variable) => !Object.hasOwn(service.env, variable.name));
}

/** Whether the service finds others through the API server (its EndpointSlices): BERTH_REGISTRY unset or kubernetes. */
function watchesApi(service: ServiceSpec): boolean {
  return (service.env.BERTH_REGISTRY ?? 'kubernetes') === 'kubernetes';
}

/**
 * What every berth process (service or gateway) runs with: its ServiceAccount,
 * bound to the system's discovery Role when it watches the API (with no token
 * mounted otherwise), and the ConfigMap its env comes from.
 */
function processIdentity(
  system: SystemFile,
  name: string,
  component: string,
  env: Readonly<Record<string, string>>,
  apiAccess: boolean,
): KubernetesObject[] {
  const labels = labelsFor(system, name, component);
  const serviceAccount: V1ServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { ...namespaced(system, name), labels },
    automountServiceAccountToken: apiAccess,
  };
  const roleBinding: V1RoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { ...namespaced(system, `${name}-discovery`), labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${system.system}-discovery` },
    subjects: [{ kind: 'ServiceAccount', name, namespace: system.namespace }],
  };
  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...namespaced(system, `${name}-config`), labels },
    data: Object.fromEntries(Object.entries(env).sort(([a], [b]) => a.localeCompare(b))),
  };
  return apiAccess ? [serviceAccount, roleBinding, configMap] : [serviceAccount, configMap];
}

function renderService(
  system: SystemFile,
  service: ServiceSpec,
  protoServices: readonly string[],
  options: RenderOptions,
): KubernetesObject[] {
  const name = service.name;
  const tag = options.tags[name];
  if (!tag) throw new Error(`no image tag for service "${name}"`);
  const kubeService: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      ...namespaced(system, name),
      labels: labelsFor(system, name, 'service'),
      annotations: {
        [protoServicesAnnotation]: protoServices.join(','),
        // Not a port of the Service: the registry learns from it where each pod's ops endpoints are.
        [opsPortAnnotation]: String(opsPort),
      },
    },
    spec: {
      type: 'ClusterIP',
      selector: selectorFor(system, name),
      ports: [
        {
          name: 'http2',
          port: podPort,
          targetPort: 'http2',
          protocol: 'TCP',
          appProtocol: 'kubernetes.io/h2c',
        },
      ],
    },
  };
  const pod = {
    env: serviceEnv(system, service),
    resources: service.resources,
    config: service.env,
    secrets: service.secrets.length > 0,
    watchesApi: watchesApi(service),
  };
  const objects: KubernetesObject[] = [
    ...processIdentity(system, name, 'service', service.env, pod.watchesApi),
    kubeService,
    deployment(
      system,
      name,
      {
        ...pod,
        replicas: service.autoscale?.max ?? service.replicas,
        autoscaled: service.autoscale !== undefined,
        tag,
      },
      options,
    ),
  ];
  const autoscaler = horizontalPodAutoscaler(system, service);
  if (autoscaler) objects.push(autoscaler);
  const canary = options.canaries?.[name];
  if (canary) {
    objects.push(
      deployment(system, name, { ...pod, replicas: canary.replicas, tag: canary.tag }, options, true),
    );
  }
  // With autoscale, replicas is its min: the fewest pods it ever runs.
  if (service.replicas > 1) objects.push(disruptionBudget(system, name, 'service'));
  return objects;
}

function renderGateway(system: SystemFile, options: RenderOptions): KubernetesObject[] {
  const tag = options.tags.gateway;
  if (!tag) throw new Error('no image tag for the gateway');
  const env: V1EnvVar[] = [
    { name: 'BERTH_GATEWAY_PORT', value: String(podPort) },
    { name: 'BERTH_OPS_PORT', value: String(opsPort) },
    { name: 'BERTH_HOST', value: '0.0.0.0' },
    { name: 'BERTH_REGISTRY', value: 'kubernetes' },
    { name: 'BERTH_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'BERTH_SYSTEM', value: system.system },
    ...Object.entries(gatewaySettingsEnv(system)).map(([name, value]) => ({ name, value })),
    { name: 'LOG_FORMAT', value: 'json' },
  ];
  if (system.gateway.static) env.push({ name: 'BERTH_STATIC_DIR', value: '/app/static' });
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { ...namespaced(system, 'gateway'), labels: labelsFor(system, 'gateway', 'gateway') },
    spec: {
      type: gatewayServiceType(system),
      selector: selectorFor(system, 'gateway'),
      ports: [
        {
          name: gatewayServicePort.name,
          port: gatewayServicePort.number,
          targetPort: 'http2',
          protocol: 'TCP',
        },
      ],
    },
  };
  return [
    ...processIdentity(system, 'gateway', 'gateway', {}, true),
    service,
    deployment(
      system,
      'gateway',
      {
        replicas: system.gateway.replicas,
        tag,
        env,
        resources: system.gateway.resources,
        config: {},
        secrets: false,
        watchesApi: true,
      },
      options,
    ),
    ...(system.gateway.replicas > 1 ? [disruptionBudget(system, 'gateway', 'gateway')] : []),
    ...gatewayIngress(system),
    ...gatewayHttpRoute(system),
  ];
}

function renderSystem(system: SystemFile): KubernetesObject[] {
  // The gateway always watches the API (it routes by the registry); services unless they chose another registry.
  const apiWatchers = [
    ...Object.values(system.services)
      .filter(watchesApi)
      .map((service) => service.name),
    'gateway',
  ];
  const namespace: V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: system.namespace,
      labels: {
        'app.kubernetes.io/part-of': system.system,
        'app.kubernetes.io/managed-by': managedBy,
        // Pod Security admission holds every pod here to the restricted standard,
        // which every pod berth renders meets (pod-security.ts).
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
      },
    },
  };
  // Exactly what the registry does (list + watch EndpointSlices, and Services for
  // their proto-services annotation, in this namespace), nothing more.
  const role: V1Role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: {
      ...namespaced(system, `${system.system}-discovery`),
      labels: labelsFor(system, 'discovery', 'rbac'),
    },
    rules: [
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
    ],
  };
  return [namespace, role, ...networkPolicies(system, { apiWatchers })];
}

/** Every object of the system, namespace first, then system-wide ones, resources, services, gateway. */
export function renderManifests(system: SystemFile, options: RenderOptions): KubernetesObject[] {
  const protoServices = protoServicesOf(system);
  const services = Object.values(system.services)
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((service) => renderService(system, service, protoServices[service.name]!, options));
  return [
    ...renderSystem(system),
    ...renderResources(system),
    ...renderDatabaseRoles(system),
    ...services,
    ...renderGateway(system, options),
  ];
}

/** Multi-document YAML, stable byte for byte. */
export function toYaml(objects: readonly KubernetesObject[]): string {
  // No anchors/aliases for objects shared between places (`&a1` … `*a1`): every
  // object reads on its own, as kubectl and reviewers expect.
  return objects
    .map((object) => stringify(object, { lineWidth: 0, sortMapEntries: false, aliasDuplicateObjects: false }))
    .join('---\n');
}

/** Secrets a system needs, by name, with the keys `berth deploy` generates when they are missing. */
export function requiredSecrets(system: SystemFile): Record<string, string[]> {
  const secrets: Record<string, string[]> = {};
  if (embeddedPostgres(system)) secrets[postgresSecret] = ['password', 'url'];
  for (const user of databaseUsers(system)) secrets[databaseSecret(user)] = ['password', 'url'];
  for (const user of natsUsers(system)) secrets[natsSecret(user)] = ['password', 'url'];
  for (const service of Object.values(system.services)) {
    if (service.secrets.length > 0) secrets[secretsName(service.name)] = [...service.secrets];
  }
  return secrets;
}
