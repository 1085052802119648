/**
 * What `berth manifests` renders and `berth deploy` applies (DESIGN.md §4), as
 * plain Kubernetes objects built from the system file. Deterministic: the same
 * system file and tags give the same objects in the same order, key for key.
 *
 * Per service: ServiceAccount, RoleBinding (to the system's discovery Role),
 * ConfigMap (its env), Service (named h2c port, annotated with the proto services
 * it serves), Deployment, PodDisruptionBudget when replicas > 1. Per system:
 * Namespace, discovery Role, NetworkPolicies, PostgreSQL and NATS StatefulSets
 * with headless Services (stateful-resources.ts; unless external URLs are
 * configured), and the gateway.
 *
 * Every berth process serves its calls on port `http2` (8080) and /healthz,
 * /readyz and /metrics only on port `ops` (9090, BERTH_OPS_PORT): probes, the
 * Prometheus scrape annotations and `berth canary --analysis` use the pod's ops
 * port; no Service exposes it, so it is never reachable through the gateway's
 * LoadBalancer or a Service address.
 */
import { createHash } from 'node:crypto';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Namespace,
  V1PodDisruptionBudget,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { gatewaySettingsEnv } from '../config/gateway-env.ts';
import type { ComputeResources, ServiceSpec, SystemFile } from '../config/system-file.ts';
import { networkPolicies } from './network-policies.ts';
import {
  labelsFor,
  managedBy,
  namespaced,
  opsPortAnnotation,
  protoServicesAnnotation,
  selectorFor,
} from './object-meta.ts';
import { nonRootSecurity } from './pod-security.ts';
import { protoServicesOf } from './proto-services.ts';
import { embeddedPostgres, natsUrl, postgresSecret, renderResources } from './stateful-resources.ts';

/** Port every berth process listens on inside a pod. */
const podPort = 8080;
/** Port of every berth process's /healthz, /readyz and /metrics inside a pod. */
export const opsPort = 9090;
/** The user the images berth builds run as (see dockerfile.ts). */
const serviceUserId = 10001;
export const fieldManager = 'berth';

export interface RenderOptions {
  /** Image tag per service name, plus `gateway`. */
  readonly tags: Readonly<Record<string, string>>;
  /** Seconds a rollout may make no progress before Kubernetes marks it failed. */
  readonly progressDeadlineSeconds?: number;
  /** Names that are canaries: `<name>-canary` Deployments with their own tag. */
  readonly canaries?: Readonly<Record<string, { readonly tag: string; readonly replicas: number }>>;
}

export function imageFor(system: SystemFile, name: string, tag: string): string {
  const repository = `${system.system}-${name}`;
  return system.registry ? `${system.registry}/${repository}:${tag}` : `${repository}:${tag}`;
}

function resourcesOf(resources: ComputeResources | undefined): V1Container['resources'] {
  if (!resources) return undefined;
  const requests: Record<string, string> = {};
  if (resources.cpu) requests.cpu = resources.cpu;
  if (resources.memory) requests.memory = resources.memory;
  const limits: Record<string, string> = {};
  if (resources.limits?.cpu) limits.cpu = resources.limits.cpu;
  if (resources.limits?.memory) limits.memory = resources.limits.memory;
  return {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

const secretsName = (name: string) => `${name}-secrets`;

/** Pod template annotation: a checksum of the process's ConfigMap data. */
export const configChecksumAnnotation = 'berth.dev/config-checksum';

function checksumOf(config: Readonly<Record<string, string>>): string {
  const sorted = Object.entries(config).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

/** The annotations Prometheus' usual pod discovery reads: scrape /metrics on the ops port. */
const scrapeAnnotations = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(opsPort),
  'prometheus.io/path': '/metrics',
};

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
  if (service.uses.includes('postgres')) {
    env.push(
      system.resources.postgres?.url !== undefined
        ? { name: 'DATABASE_URL', value: system.resources.postgres.url }
        : { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: postgresSecret, key: 'url' } } },
    );
  }
  const nats = natsUrl(system);
  if (nats && service.uses.includes('nats')) env.push({ name: 'NATS_URL', value: nats });
  // The service's own `env` (its ConfigMap, loaded with envFrom) must win, e.g.
  // BERTH_REGISTRY: static; an `env` entry would shadow it, so leave those out.
  return env.filter((variable) => !Object.hasOwn(service.env, variable.name));
}

/**
 * What every berth process (service or gateway) runs with: its ServiceAccount,
 * bound to the system's discovery Role, and the ConfigMap its env comes from.
 */
function processIdentity(
  system: SystemFile,
  name: string,
  component: string,
  env: Readonly<Record<string, string>>,
): KubernetesObject[] {
  const labels = labelsFor(system, name, component);
  const serviceAccount: V1ServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { ...namespaced(system, name), labels },
    automountServiceAccountToken: true,
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
  return [serviceAccount, roleBinding, configMap];
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
  };
  const objects: KubernetesObject[] = [
    ...processIdentity(system, name, 'service', service.env),
    kubeService,
    deployment(system, name, { ...pod, replicas: service.replicas, tag }, options),
  ];
  const canary = options.canaries?.[name];
  if (canary) {
    objects.push(
      deployment(system, name, { ...pod, replicas: canary.replicas, tag: canary.tag }, options, true),
    );
  }
  if (service.replicas > 1) objects.push(disruptionBudget(system, name, 'service'));
  return objects;
}

function disruptionBudget(system: SystemFile, name: string, component: string): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { ...namespaced(system, name), labels: labelsFor(system, name, component) },
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorFor(system, name) } },
  };
}

/** What differs between berth's Deployments. */
interface PodInputs {
  readonly replicas: number;
  readonly tag: string;
  /** Variables set on the container itself. */
  readonly env: V1EnvVar[];
  readonly resources?: ComputeResources;
  /** The process's ConfigMap data (berth.yaml `env`), loaded with envFrom. */
  readonly config: Readonly<Record<string, string>>;
  /** Whether it declares `secrets:`; its `<name>-secrets` Secret is then required. */
  readonly secrets: boolean;
}

/**
 * A berth process's Deployment. Rollouts never lower capacity (maxUnavailable 0);
 * the preStop pause lets endpoints and client caches drop the pod before SIGTERM,
 * and the grace period covers berth's own drain (deregister delay + in-flight).
 * The pod template carries a checksum of its ConfigMap: envFrom is read only when
 * a container starts, so a config change must change the template to roll out,
 * and then rolls this service alone.
 */
function deployment(
  system: SystemFile,
  name: string,
  { replicas, tag, env, resources, config, secrets }: PodInputs,
  options: RenderOptions,
  canary = false,
): V1Deployment {
  const component = name === 'gateway' ? 'gateway' : 'service';
  const deploymentName = canary ? `${name}-canary` : name;
  const podLabels = {
    ...selectorFor(system, name),
    'app.kubernetes.io/version': tag,
    ...(canary ? { 'berth.dev/track': 'canary' } : {}),
  };
  const security = nonRootSecurity(serviceUserId);
  const container: V1Container = {
    name,
    image: imageFor(system, name, tag),
    imagePullPolicy: 'IfNotPresent',
    ports: [
      { name: 'http2', containerPort: podPort, protocol: 'TCP' },
      { name: 'ops', containerPort: opsPort, protocol: 'TCP' },
    ],
    // A declared secret is required: a missing Secret keeps the pod from starting,
    // rather than each replica making up its own value (a JWT key per replica).
    envFrom: [
      { configMapRef: { name: `${name}-config` } },
      ...(secrets ? [{ secretRef: { name: secretsName(name) } }] : []),
    ],
    env,
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'ops' },
      periodSeconds: 5,
      failureThreshold: 2,
      timeoutSeconds: 2,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'ops' },
      periodSeconds: 10,
      failureThreshold: 3,
      timeoutSeconds: 2,
    },
    startupProbe: { httpGet: { path: '/healthz', port: 'ops' }, periodSeconds: 2, failureThreshold: 30 },
    lifecycle: { preStop: { sleep: { seconds: 5 } } },
    resources: resourcesOf(resources),
    securityContext: security.container,
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      ...namespaced(system, deploymentName),
      labels: {
        ...labelsFor(system, name, component, tag),
        ...(canary ? { 'berth.dev/track': 'canary' } : {}),
      },
    },
    spec: {
      replicas,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: options.progressDeadlineSeconds ?? 120,
      selector: {
        matchLabels: canary
          ? { ...selectorFor(system, name), 'berth.dev/track': 'canary' }
          : selectorFor(system, name),
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: podLabels,
          annotations: { ...scrapeAnnotations, [configChecksumAnnotation]: checksumOf(config) },
        },
        spec: {
          serviceAccountName: name,
          terminationGracePeriodSeconds: 30,
          securityContext: security.pod,
          containers: [container],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
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
      type: system.environment === 'dev' ? 'NodePort' : 'LoadBalancer',
      selector: selectorFor(system, 'gateway'),
      ports: [{ name: 'http', port: 80, targetPort: 'http2', protocol: 'TCP' }],
    },
  };
  return [
    ...processIdentity(system, 'gateway', 'gateway', {}),
    service,
    deployment(system, 'gateway', { replicas: 2, tag, env, config: {}, secrets: false }, options),
    disruptionBudget(system, 'gateway', 'gateway'),
  ];
}

function renderSystem(system: SystemFile): KubernetesObject[] {
  const namespace: V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: system.namespace,
      labels: { 'app.kubernetes.io/part-of': system.system, 'app.kubernetes.io/managed-by': managedBy },
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
  return [namespace, role, ...networkPolicies(system)];
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
  for (const service of Object.values(system.services)) {
    if (service.secrets.length > 0) secrets[secretsName(service.name)] = [...service.secrets];
  }
  return secrets;
}
