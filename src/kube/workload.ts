/**
 * A berth process's workload: its Deployment (service, canary or gateway) and
 * PodDisruptionBudget, with the ports, probes, security context and config
 * checksum every berth pod has. Rendered by manifests.ts.
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1Deployment, V1EnvVar, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { ComputeResources, SystemFile } from '../config/system-file.ts';
import { canaryTrack, labelsFor, namespaced, selectorFor, trackLabel } from './object-meta.ts';
import { nonRootSecurity } from './pod-security.ts';
import { rolloutAnnotations } from './rollout-failures.ts';

/** Port every berth process listens on inside a pod. */
export const podPort = 8080;
/** Port of every berth process's /healthz, /readyz and /metrics inside a pod. */
export const opsPort = 9090;
/** The user the images berth builds run as (see dockerfile.ts). */
const serviceUserId = 10001;
export interface WorkloadOptions {
  /** Seconds a rollout may make no progress before Kubernetes marks it failed. */
  readonly progressDeadlineSeconds?: number;
}

/** `<service>-secrets`: the Secret holding a service's declared `secrets:`. */
export const secretsName = (name: string) => `${name}-secrets`;

export function imageFor(system: SystemFile, name: string, tag: string): string {
  const repository = `${system.system}-${name}`;
  return system.registry ? `${system.registry}/${repository}:${tag}` : `${repository}:${tag}`;
}

/**
 * Requests of a berth process that berth.yaml gives none for: what one idles at
 * (~80 MB RSS measured, docs/footprint.md), so the scheduler never packs a node
 * with pods it counted as free. Every workload has requests (kube-score, and
 * the HPA's CPU target needs them).
 */
export const defaultRequests: Readonly<Record<'cpu' | 'memory', string>> = { cpu: '50m', memory: '96Mi' };

export function resourcesOf(
  resources: ComputeResources | undefined,
  defaults: Readonly<Record<'cpu' | 'memory', string>> = defaultRequests,
): NonNullable<V1Container['resources']> {
  const requests = { cpu: resources?.cpu ?? defaults.cpu, memory: resources?.memory ?? defaults.memory };
  const limits: Record<string, string> = {};
  if (resources?.limits?.cpu) limits.cpu = resources.limits.cpu;
  if (resources?.limits?.memory) limits.memory = resources.limits.memory;
  return { requests, ...(Object.keys(limits).length > 0 ? { limits } : {}) };
}

/** Pod template annotation: a checksum of the process's ConfigMap data. */
export const configChecksumAnnotation = 'berth.dev/config-checksum';

export function checksumOf(config: Readonly<Record<string, string>>): string {
  const sorted = Object.entries(config).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

/** The annotations Prometheus' usual pod discovery reads: scrape /metrics on the ops port. */
const scrapeAnnotations = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(opsPort),
  'prometheus.io/path': '/metrics',
};

/**
 * At most one stable pod of a multi-replica workload down at a time in a drain.
 * It counts stable pods only: `name` + `part-of` also match a canary's pods, and
 * a canary that never becomes ready would then use up the one disruption the
 * budget allows and block every drain. A canary has no budget of its own: it is
 * one or a few pods on trial, and evicting one only reschedules it. (A budget's
 * selector can change in place, unlike a Deployment's.)
 */
export function disruptionBudget(system: SystemFile, name: string, component: string): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { ...namespaced(system, name), labels: labelsFor(system, name, component) },
    spec: {
      maxUnavailable: 1,
      selector: {
        matchLabels: selectorFor(system, name),
        matchExpressions: [{ key: trackLabel, operator: 'NotIn', values: [canaryTrack] }],
      },
    },
  };
}

/**
 * berth.yaml `telemetry` as the OTEL_* variables every berth container gets (the
 * gateway's too), with the system and environment as resource attributes; a
 * variable the process's own `env` sets (its ConfigMap) is left to it.
 */
export function telemetryEnv(system: SystemFile, config: Readonly<Record<string, string>>): V1EnvVar[] {
  const telemetry = system.telemetry;
  if (telemetry?.otlpEndpoint === undefined) return [];
  const variables: Array<[string, string | number | undefined]> = [
    ['OTEL_EXPORTER_OTLP_ENDPOINT', telemetry.otlpEndpoint],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', telemetry.protocol],
    ['OTEL_TRACES_SAMPLER', telemetry.sampler],
    ['OTEL_TRACES_SAMPLER_ARG', telemetry.samplerArg],
    [
      'OTEL_RESOURCE_ATTRIBUTES',
      `service.namespace=${system.system},deployment.environment.name=${system.environment}`,
    ],
  ];
  return variables
    .filter(([name, value]) => value !== undefined && !Object.hasOwn(config, name))
    .map(([name, value]) => ({ name, value: String(value) }));
}

/** What differs between berth's Deployments. */
export interface PodInputs {
  /** With `autoscaled`, the most the autoscaler may set. */
  readonly replicas: number;
  /**
   * A HorizontalPodAutoscaler sets the replicas: the Deployment has none, so
   * berth's server-side apply never owns (and never resets) the count it chose.
   */
  readonly autoscaled?: boolean;
  readonly tag: string;
  /** Variables set on the container itself. */
  readonly env: V1EnvVar[];
  readonly resources?: ComputeResources;
  /** The process's ConfigMap data (berth.yaml `env`), loaded with envFrom. */
  readonly config: Readonly<Record<string, string>>;
  /** Whether it declares `secrets:`; its `<name>-secrets` Secret is then required. */
  readonly secrets: boolean;
  /** Whether it watches the API server (the kubernetes registry); else its pods get no token. */
  readonly watchesApi: boolean;
}

/**
 * A berth process's Deployment. Rollouts never lower capacity (maxUnavailable 0);
 * the preStop pause lets endpoints and client caches drop the pod before SIGTERM,
 * and the grace period covers berth's own drain (deregister delay + in-flight).
 * The pod template carries a checksum of its ConfigMap: envFrom is read only when
 * a container starts, so a config change must change the template to roll out,
 * and then rolls this service alone. A new pod counts as available once it has
 * stayed ready `minReadySeconds` (berth.yaml `rollout`, the service's own or the
 * system's), so one that crashes soon after it is ready holds the rollout up
 * instead of passing it; the other `rollout` limits ride along as annotations
 * that the rollout wait reads (rollout-failures.ts).
 */
export function deployment(
  system: SystemFile,
  name: string,
  { replicas, autoscaled, tag, env, resources, config, secrets, watchesApi }: PodInputs,
  options: WorkloadOptions,
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
  const rollout = system.services[name]?.rollout ?? system.rollout;
  const progressDeadlineSeconds = options.progressDeadlineSeconds ?? 120;
  // The API server refuses it otherwise: Kubernetes counts the bake inside the progress deadline.
  if (progressDeadlineSeconds <= rollout.minReadySeconds) {
    throw new Error(
      `the progress deadline (${progressDeadlineSeconds} s, --progress-deadline) must be longer than ${name}'s rollout.minReadySeconds (${rollout.minReadySeconds} s), the time a new pod must stay ready: raise --progress-deadline or lower rollout.minReadySeconds in berth.yaml`,
    );
  }
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
    env: [...env, ...telemetryEnv(system, config)],
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
      annotations: rolloutAnnotations(rollout),
    },
    spec: {
      ...(autoscaled ? {} : { replicas }),
      revisionHistoryLimit: 10,
      minReadySeconds: rollout.minReadySeconds,
      progressDeadlineSeconds,
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
          // A pod that never calls the API server holds no token for it.
          ...(watchesApi ? {} : { automountServiceAccountToken: false }),
          terminationGracePeriodSeconds: 30,
          securityContext: security.pod,
          containers: [container],
          volumes: [{ name: 'tmp', emptyDir: {} }],
          // Replicas on different nodes where there are several: one node's loss is not the service's.
          ...(replicas > 1 && !canary
            ? {
                topologySpreadConstraints: [
                  {
                    maxSkew: 1,
                    topologyKey: 'kubernetes.io/hostname',
                    whenUnsatisfiable: 'ScheduleAnyway',
                    labelSelector: { matchLabels: selectorFor(system, name) },
                  },
                ],
              }
            : {}),
        },
      },
    },
  };
}
