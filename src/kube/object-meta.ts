/**
 * Names, labels and annotations on the objects berth renders, shared by the
 * renderer (manifests.ts, stateful-resources.ts), the commands that find those
 * objects again (deploy, rollout, operate) and the registry that reads them in a pod.
 */
import type { SystemFile } from '../config/system-file.ts';

export const managedBy = 'berth';

/** On every rendered object: the berth.yaml environment it was rendered for. */
export const environmentLabel = 'berth.dev/environment';

/**
 * On each service's Kubernetes Service: the fully-qualified proto services its
 * pods serve, comma-separated and sorted. EndpointSlices copy a Service's labels
 * but not its annotations, so the registry reads it from the Service.
 */
export const protoServicesAnnotation = 'berth.dev/proto-services';

/**
 * On a service's Kubernetes Service while a canary runs (`berth canary --weight W`):
 * the percentage of calls berth's callers send to the canary's pods, whatever
 * the ratio of pods. Promote and abort remove it.
 */
export const canaryWeightAnnotation = 'berth.dev/canary-weight';

/**
 * On a canary's Deployment and pods, with the value {@link canaryTrack}; stable
 * pods have no such label. Not in the stable Deployment's selector (immutable,
 * and older than canaries): what must leave canary pods out says so itself.
 */
export const trackLabel = 'berth.dev/track';
export const canaryTrack = 'canary';

/**
 * On each service's Kubernetes Service: the port of its pods' /healthz, /readyz
 * and /metrics, which the Service itself does not expose; the registry gives it
 * to callers as `metadata.opsPort`.
 */
export const opsPortAnnotation = 'berth.dev/ops-port';

export function labelsFor(
  system: SystemFile,
  name: string,
  component: string,
  version?: string,
): Record<string, string> {
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': system.system,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': managedBy,
    // Which overlay of berth.yaml made it: said on every object, so a namespace
    // shared by mistake shows whose objects are whose.
    [environmentLabel]: system.environment,
  };
  if (version !== undefined) labels['app.kubernetes.io/version'] = version;
  return labels;
}

/** Labels that select a workload's pods; they never change across releases. */
export function selectorFor(system: SystemFile, name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': system.system };
}

/**
 * The labels of a system's callable services (and so of their EndpointSlices):
 * the gateway and the stateful resources (postgres, nats) are no services to call.
 */
export function callableServiceLabels(system: string): Record<string, string> {
  return { 'app.kubernetes.io/part-of': system, 'app.kubernetes.io/component': 'service' };
}

/** `{a: 1, b: 2}` → `a=1,b=2`, the label selector the API's list calls take. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

export function namespaced(system: SystemFile, name: string): { name: string; namespace: string } {
  return { name, namespace: system.namespace };
}

/** An object by kind and name (in the system's namespace), as deploy reports what it changed. */
export interface ObjectRef {
  readonly kind: string;
  readonly name: string;
}
