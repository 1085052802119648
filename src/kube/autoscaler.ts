/**
 * A service's HorizontalPodAutoscaler, when berth.yaml asks for one
 * (`autoscale: { min, max, cpu }`). Its Deployment then has no `spec.replicas`
 * (workload.ts): berth's server-side apply owns no replica count, so a deploy
 * never puts back what the autoscaler chose.
 */
import type { V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ServiceSpec, SystemFile } from '../config/system-file.ts';
import type { KubeClient } from './kube-client.ts';
import { fieldManager } from './manifests.ts';
import { labelsFor, namespaced } from './object-meta.ts';

export function horizontalPodAutoscaler(
  system: SystemFile,
  service: ServiceSpec,
): V2HorizontalPodAutoscaler | undefined {
  const autoscale = service.autoscale;
  if (!autoscale) return undefined;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { ...namespaced(system, service.name), labels: labelsFor(system, service.name, 'service') },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: service.name },
      minReplicas: autoscale.min,
      maxReplicas: autoscale.max,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: autoscale.cpu } },
        },
      ],
    },
  };
}

/** The field manager that holds a replica count while the autoscaler takes it over. */
export const handoverFieldManager = 'berth-handover-to-hpa';

/**
 * Before berth applies a Deployment without replicas that it applied with them
 * before (the service now autoscales): server-side apply would delete a field its
 * manager no longer sets, and the count would fall to 1 until the autoscaler
 * raised it again. Another manager first takes shared ownership of the current
 * count, as the Kubernetes docs describe for handing replicas to an HPA; the
 * autoscaler's own updates take it from there.
 */
export async function handOverReplicas(
  client: KubeClient,
  rendered: V1Deployment,
  current: V1Deployment | undefined,
): Promise<void> {
  if (rendered.spec?.replicas !== undefined || current?.spec?.replicas === undefined) return;
  const ownedByBerth = (current.metadata?.managedFields ?? []).some(
    (entry) =>
      entry.manager === fieldManager &&
      entry.operation === 'Apply' &&
      Object.hasOwn((entry.fieldsV1 as { 'f:spec'?: object } | undefined)?.['f:spec'] ?? {}, 'f:replicas'),
  );
  if (!ownedByBerth) return;
  await holdReplicas(client, current, current.spec.replicas);
}

/**
 * The hand-over manager takes (shared) ownership of `deployment`'s replica
 * count at `replicas`, so berth can stop applying one without it falling to 1.
 */
export async function holdReplicas(
  client: KubeClient,
  deployment: V1Deployment,
  replicas: number,
): Promise<void> {
  await client.apply(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: deployment.metadata!.name!, namespace: deployment.metadata!.namespace! },
      spec: { replicas },
    },
    { fieldManager: handoverFieldManager },
  );
}
