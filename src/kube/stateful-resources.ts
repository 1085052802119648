/**
 * The resources berth runs in the cluster when the system gives no external URL:
 * PostgreSQL and NATS JetStream, each a one-replica StatefulSet with a volume claim
 * (berth.yaml `resources.<kind>.storage`, default 1Gi of the default StorageClass)
 * and a headless Service. Their requests default to what each idles at.
 *
 * Each runs as its image's own non-root user, with the same restricted security
 * context as the services. The official postgres image starts as root only to
 * chown its folders and drop to uid 999 (gosu), which fails with every capability
 * dropped; started as 999 it skips that, and `fsGroup` makes the claim writable.
 */
import { dirname } from 'node:path';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1EnvVar,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { InClusterServerSpec, ResourceKind, SystemFile } from '../config/system-file.ts';
import { inCluster, postgresSecret } from './in-cluster.ts';
import { natsConfig, natsConfigPath, natsPasswordsEnv } from './nats-users.ts';
import { labelsFor, namespaced, selectorFor } from './object-meta.ts';
import { nonRootSecurity } from './pod-security.ts';
import { checksumOf, configChecksumAnnotation, resourcesOf } from './workload.ts';

interface StatefulResource {
  readonly name: ResourceKind;
  /** What berth.yaml says of it: image, resources, storage. */
  readonly server: InClusterServerSpec;
  readonly port: number;
  /** The image's own unprivileged user (and group), which also owns the claim. */
  readonly userId: number;
  readonly env?: V1EnvVar[];
  readonly args?: string[];
  /** What the server idles at, so the scheduler counts it: the requests unless berth.yaml sets its own. */
  readonly requests: Readonly<Record<'cpu' | 'memory', string>>;
  /** Where the claim is mounted. */
  readonly dataPath: string;
  /** Other folders the server writes, by volume name: emptyDirs, as the root filesystem is read-only. */
  readonly scratch?: Readonly<Record<string, string>>;
  /** A configuration file, mounted read-only in `mountPath`; its checksum on the pod template restarts the server when it changes. */
  readonly config?: { readonly configMap: V1ConfigMap; readonly mountPath: string };
}

function statefulResource(system: SystemFile, resource: StatefulResource): KubernetesObject[] {
  const { name, port, server } = resource;
  const labels = labelsFor(system, name, 'resource');
  const security = nonRootSecurity(resource.userId);
  const scratch = Object.entries(resource.scratch ?? {});
  const config = resource.config;
  const volumes = [
    ...scratch.map(([volume]) => ({ name: volume, emptyDir: {} })),
    ...(config ? [{ name: 'config', configMap: { name: config.configMap.metadata!.name! } }] : []),
  ];
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { ...namespaced(system, name), labels },
    spec: {
      clusterIP: 'None',
      selector: selectorFor(system, name),
      ports: [{ name, port, targetPort: port, protocol: 'TCP' }],
    },
  };
  const statefulSet: V1StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { ...namespaced(system, name), labels },
    spec: {
      serviceName: name,
      replicas: 1,
      selector: { matchLabels: selectorFor(system, name) },
      template: {
        metadata: {
          labels: selectorFor(system, name),
          ...(config
            ? { annotations: { [configChecksumAnnotation]: checksumOf(config.configMap.data ?? {}) } }
            : {}),
        },
        spec: {
          // Neither server calls the API server: no token in its pods.
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 30,
          securityContext: security.pod,
          containers: [
            {
              name,
              image: server.image,
              args: resource.args,
              ports: [{ name, containerPort: port, protocol: 'TCP' }],
              ...(resource.env ? { env: resource.env } : {}),
              readinessProbe: { tcpSocket: { port }, periodSeconds: 5 },
              resources: resourcesOf(server.resources, resource.requests),
              volumeMounts: [
                { name: 'data', mountPath: resource.dataPath },
                ...scratch.map(([volume, mountPath]) => ({ name: volume, mountPath })),
                ...(config ? [{ name: 'config', mountPath: config.mountPath, readOnly: true }] : []),
              ],
              securityContext: security.container,
            },
          ],
          ...(volumes.length > 0 ? { volumes } : {}),
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: {
            accessModes: ['ReadWriteOnce'],
            // Left out, the cluster's default StorageClass provisions it.
            ...(server.storage.className !== undefined ? { storageClassName: server.storage.className } : {}),
            resources: { requests: { storage: server.storage.size } },
          },
        },
      ],
    },
  };
  return [...(config ? [config.configMap] : []), service, statefulSet];
}

export function renderResources(system: SystemFile): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  const postgres = inCluster(system, 'postgres');
  if (postgres) {
    objects.push(
      ...statefulResource(system, {
        name: 'postgres',
        server: postgres,
        port: 5432,
        userId: 999,
        env: [
          {
            name: 'POSTGRES_PASSWORD',
            valueFrom: { secretKeyRef: { name: postgresSecret, key: 'password' } },
          },
          // A folder below the mount point: a fresh volume's root may hold lost+found, and initdb wants it empty.
          { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
        ],
        dataPath: '/var/lib/postgresql/data',
        requests: { cpu: '100m', memory: '256Mi' },
        // The server's socket and lock file, and what the image's entrypoint writes while it initialises.
        scratch: { run: '/var/run/postgresql', tmp: '/tmp' },
      }),
    );
  }
  const nats = inCluster(system, 'nats');
  if (nats) {
    objects.push(
      ...statefulResource(system, {
        name: 'nats',
        server: nats,
        port: 4222,
        userId: 1000,
        // Flags win over the file, which holds the users (nats-users.ts).
        args: ['--config', natsConfigPath, '-js', '-sd', '/data'],
        env: natsPasswordsEnv(system),
        config: { configMap: natsConfig(system), mountPath: dirname(natsConfigPath) },
        dataPath: '/data',
        requests: { cpu: '50m', memory: '64Mi' },
      }),
    );
  }
  return objects;
}
