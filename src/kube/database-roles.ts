/**
 * One PostgreSQL role per service on the in-cluster database, in place of the
 * superuser for all: each service that `uses: [postgres]` logs in as a role of
 * its own name, with its own generated password (Secret `<service>-database`),
 * that may create schemas and use what it owns, and nothing else. Schemas are
 * owned by their creator and no one else gets USAGE, so a service cannot read
 * another's tables; the role is no superuser and cannot create roles or databases.
 *
 * The roles are made by a Job that `berth deploy` runs once PostgreSQL is ready
 * and before any service starts: psql from the server's own image, connecting as
 * the superuser, running the script of the `database-roles` ConfigMap. Passwords
 * reach psql through the environment (`\getenv`, psql ≥ 15), never in the
 * script, the arguments or a log. The script is idempotent: it creates what is
 * missing and sets each password again. The Job's name carries a checksum of what
 * it does, so an unchanged release applies the same Job and runs nothing, and a
 * changed one (a service added) runs a new one.
 *
 * A schema named after the service that exists already (made by the superuser,
 * before berth gave services their own roles) is handed to the service's role
 * with its tables, views and sequences, so an upgrade keeps its data.
 */
import { createHash } from 'node:crypto';
import type { KubernetesObject, V1ConfigMap, V1EnvVar, V1Job } from '@kubernetes/client-node';
import type { SystemFile } from '../config/system-file.ts';
import { embeddedPostgres, passwordEnv, passwordsFromSecrets, postgresSecret } from './in-cluster.ts';
import { labelsFor, namespaced, selectorFor } from './object-meta.ts';
import { nonRootSecurity } from './pod-security.ts';
import { resourcesOf } from './workload.ts';

/** The workload name of the Job's pods (and the prefix of the Job's own name). */
export const databaseRolesName = 'database-roles';

/** `<service>-database`: the service's own role's password and the URL it connects with. */
export const databaseSecret = (service: string) => `${service}-database`;

/** Role names PostgreSQL reserves (CREATE ROLE refuses them), hence no service that uses postgres may take. */
const reservedRoles = new Set(['public', 'none', 'current_role', 'current_user', 'session_user']);

/** The services that log in to the in-cluster PostgreSQL, sorted; none when it is external or unused. */
export function databaseUsers(system: SystemFile): string[] {
  if (!embeddedPostgres(system)) return [];
  const users = Object.values(system.services)
    .filter((service) => service.uses.includes('postgres'))
    .map((service) => service.name)
    .sort();
  for (const user of users) {
    if (reservedRoles.has(user)) {
      throw new Error(
        `service "${user}" uses postgres, and PostgreSQL reserves the role name "${user}": rename the service`,
      );
    }
  }
  return users;
}

/** What a service's Secret holds: its password and the URL with it, as `berth deploy` generates them once. */
export function databaseCredentials(
  system: SystemFile,
  user: string,
  password: string,
): { password: string; url: string } {
  const host = `postgres.${system.namespace}.svc:5432`;
  return { password, url: `postgres://${encodeURIComponent(user)}:${password}@${host}/postgres` };
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
const passwordVariable = (user: string) => `password_${user.replaceAll('-', '_')}`;

/** The psql script: for each user, its role, its rights on the database, and its schema handed over. */
export function rolesScript(users: readonly string[]): string {
  const lines = ['\\set ON_ERROR_STOP on', "SET client_min_messages TO 'warning';"];
  for (const user of users) {
    const role = ident(user);
    const name = literal(user);
    lines.push(
      '',
      `-- ${user}`,
      `\\getenv ${passwordVariable(user)} ${passwordEnv(user)}`,
      `SELECT format('CREATE ROLE %I', ${name}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${name}) \\gexec`,
      `ALTER ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'${passwordVariable(user)}';`,
      // CREATE: the service makes its own schema (berth/store's migrate); PUBLIC keeps CONNECT and TEMPORARY.
      `GRANT CONNECT, CREATE ON DATABASE postgres TO ${role};`,
      `SELECT format('ALTER SCHEMA %I OWNER TO %I', nspname, ${name}) FROM pg_namespace WHERE nspname = ${name} AND nspowner <> ${name}::regrole \\gexec`,
      // Sequences a table owns follow it; only free-standing ones are handed over on their own.
      `SELECT format('ALTER TABLE %I.%I OWNER TO %I', ${name}, c.relname, ${name}) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${name} AND c.relowner <> ${name}::regrole AND (c.relkind IN ('r', 'p', 'v', 'm', 'f') OR (c.relkind = 'S' AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))) \\gexec`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The ConfigMap with the script and the Job that runs it; nothing when no service logs in to an in-cluster PostgreSQL. */
export function renderDatabaseRoles(system: SystemFile): KubernetesObject[] {
  const users = databaseUsers(system);
  if (users.length === 0) return [];
  const image = system.resources.postgres!.image;
  const script = rolesScript(users);
  const labels = labelsFor(system, databaseRolesName, 'job');
  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...namespaced(system, databaseRolesName), labels },
    data: { 'roles.sql': script },
  };
  const checksum = createHash('sha256')
    .update(JSON.stringify([image, script]))
    .digest('hex')
    .slice(0, 10);
  const security = nonRootSecurity(999);
  const env: V1EnvVar[] = [
    { name: 'PGHOST', value: `postgres.${system.namespace}.svc` },
    { name: 'PGUSER', value: 'postgres' },
    { name: 'PGDATABASE', value: 'postgres' },
    { name: 'PGCONNECT_TIMEOUT', value: '10' },
    { name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: postgresSecret, key: 'password' } } },
    ...passwordsFromSecrets(users, databaseSecret),
  ];
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { ...namespaced(system, `${databaseRolesName}-${checksum}`), labels },
    spec: {
      // Three tries (a server that restarts meanwhile), two minutes in all: then the deploy rolls back.
      backoffLimit: 2,
      activeDeadlineSeconds: 120,
      template: {
        metadata: {
          labels: { ...selectorFor(system, databaseRolesName), 'app.kubernetes.io/component': 'job' },
        },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: security.pod,
          containers: [
            {
              name: 'psql',
              image,
              // The image's entrypoint would start a server: psql alone, on the mounted script.
              command: ['psql', '--no-psqlrc', '--file=/berth/roles.sql'],
              env,
              // psql's last error becomes the pod's termination message, which deploy shows.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              resources: resourcesOf(undefined, { cpu: '50m', memory: '32Mi' }),
              volumeMounts: [{ name: 'script', mountPath: '/berth', readOnly: true }],
              securityContext: security.container,
            },
          ],
          volumes: [{ name: 'script', configMap: { name: databaseRolesName } }],
        },
      },
    },
  };
  return [configMap, job];
}
