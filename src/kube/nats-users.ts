/**
 * NATS with credentials: with the in-cluster NATS, each service that
 * `uses: [nats]` connects as a user of its own name with its own generated
 * password (Secret `<service>-nats`: `password` and the `url` with it), and the
 * server accepts no one else: no anonymous client, from this system's pods or
 * any other pod of the cluster.
 *
 * The server's configuration (ConfigMap `nats-config`) names the users and
 * reads each password from its environment (`$BERTH_PASSWORD_<SERVICE>`), which
 * the StatefulSet fills from the Secrets; so the rendered manifests hold no
 * secret and still render offline. nats-server parses a variable's value as a
 * configuration value (a leading digit makes it a number), hence passwords of a
 * letter and hex digits. Users are not limited to subjects: every service
 * publishes and consumes on the system's one stream, and berth.yaml does not say
 * who publishes what.
 */
import { randomBytes } from 'node:crypto';
import type { V1ConfigMap, V1EnvVar } from '@kubernetes/client-node';
import type { SystemFile } from '../config/system-file.ts';
import { inCluster, passwordEnv, passwordsFromSecrets } from './in-cluster.ts';
import { labelsFor, namespaced } from './object-meta.ts';

/** `<service>-nats`: the service's NATS password and the URL it connects with. */
export const natsSecret = (service: string) => `${service}-nats`;

export const natsConfigName = 'nats-config';

/** Where the StatefulSet mounts the configuration. */
export const natsConfigPath = '/etc/nats/nats.conf';

/** The services that connect to the in-cluster NATS, sorted; none when it is external or unused. */
export function natsUsers(system: SystemFile): string[] {
  if (!inCluster(system, 'nats')) return [];
  return Object.values(system.services)
    .filter((service) => service.uses.includes('nats'))
    .map((service) => service.name)
    .sort();
}

/** 256 random bits as a letter and 64 hex digits: what nats-server reads back from its environment as a string. */
export const natsPassword = () => `n${randomBytes(32).toString('hex')}`;

export function natsCredentials(
  system: SystemFile,
  user: string,
  password: string,
): { password: string; url: string } {
  return { password, url: `nats://${user}:${password}@nats.${system.namespace}.svc:4222` };
}

/** nats-server's configuration: the users, each password from the environment. */
export function natsConfig(system: SystemFile): V1ConfigMap {
  const users = natsUsers(system).map(
    (user) => `    { user: ${JSON.stringify(user)}, password: $${passwordEnv(user)} }`,
  );
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...namespaced(system, natsConfigName), labels: labelsFor(system, 'nats', 'resource') },
    data: { 'nats.conf': ['authorization {', '  users: [', ...users, '  ]', '}', ''].join('\n') },
  };
}

/** The StatefulSet's environment: each user's password from its Secret. */
export function natsPasswordsEnv(system: SystemFile): V1EnvVar[] {
  return passwordsFromSecrets(natsUsers(system), natsSecret);
}
