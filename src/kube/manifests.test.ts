import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Deployment,
  V1Job,
  V1NetworkPolicy,
  V1Role,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { loadSystemFile, type SystemFile } from '../config/system-file.ts';
import { metricsPort } from './canary-analysis.ts';
import { renderManifests } from './manifests.ts';
import { imageNames } from './release.ts';

const shippy = loadSystemFile(join(import.meta.dirname, '../../examples/shippy'), { env: 'production' });

function render(system: SystemFile): KubernetesObject[] {
  return renderManifests(system, {
    tags: Object.fromEntries(imageNames(system).map((name) => [name, 'r1'])),
  });
}

/** The kinds whose objects hold a pod template. */
const podKinds = new Set(['Deployment', 'StatefulSet', 'Job']);

function find<T extends KubernetesObject>(objects: KubernetesObject[], kind: string, name: string): T {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  assert.ok(found, `${kind}/${name} is rendered`);
  return found as T;
}

test("each service's Service names the proto services it serves; the gateway's names none", () => {
  const objects = render(shippy);
  const annotations = Object.fromEntries(
    ['consignment', 'email', 'user', 'vessel', 'gateway'].map((name) => [
      name,
      find<V1Service>(objects, 'Service', name).metadata?.annotations?.['berth.dev/proto-services'],
    ]),
  );
  assert.deepEqual(annotations, {
    consignment: 'shippy.consignment.v1.ConsignmentService',
    // berth.yaml says `serves: []`: it only subscribes to events.
    email: '',
    user: 'shippy.user.v1.UserService',
    vessel: 'shippy.vessel.v1.VesselService',
    gateway: undefined,
  });
  const twoServices = { ...shippy.services.vessel!, serves: ['shippy.vessel.v2.VesselService', 'a.B'] };
  const vessel = find<V1Service>(
    render({ ...shippy, services: { ...shippy.services, vessel: twoServices } }),
    'Service',
    'vessel',
  );
  assert.equal(
    vessel.metadata?.annotations?.['berth.dev/proto-services'],
    'a.B,shippy.vessel.v2.VesselService',
  );
});

test('the discovery Role grants what the registry reads, nothing more', () => {
  assert.deepEqual(find<V1Role>(render(shippy), 'Role', 'shippy-discovery').rules, [
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
  ]);
});

test("postgres and nats run as their images' own non-root users, read-only, with the images berth.yaml names", () => {
  const defaults = render(shippy);
  const pod = (objects: KubernetesObject[], name: string) =>
    find<V1StatefulSet>(objects, 'StatefulSet', name).spec!.template.spec!;
  const restricted = (userId: number) => ({
    runAsNonRoot: true,
    runAsUser: userId,
    runAsGroup: userId,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });

  const postgres = pod(defaults, 'postgres');
  assert.deepEqual(postgres.securityContext, { runAsNonRoot: true, fsGroup: 999 });
  assert.deepEqual(postgres.containers[0]!.securityContext, restricted(999));
  assert.equal(postgres.containers[0]!.image, 'postgres:16.4-bookworm');
  assert.deepEqual(postgres.containers[0]!.volumeMounts, [
    { name: 'data', mountPath: '/var/lib/postgresql/data' },
    { name: 'run', mountPath: '/var/run/postgresql' },
    { name: 'tmp', mountPath: '/tmp' },
  ]);
  assert.deepEqual(postgres.volumes, [
    { name: 'run', emptyDir: {} },
    { name: 'tmp', emptyDir: {} },
  ]);

  const nats = pod(defaults, 'nats');
  assert.deepEqual(nats.securityContext, { runAsNonRoot: true, fsGroup: 1000 });
  assert.deepEqual(nats.containers[0]!.securityContext, restricted(1000));
  assert.equal(nats.containers[0]!.image, 'nats:2.10.22-alpine');
  assert.deepEqual(nats.containers[0]!.args, ['--config', '/etc/nats/nats.conf', '-js', '-sd', '/data']);
  assert.deepEqual(nats.containers[0]!.volumeMounts, [
    { name: 'data', mountPath: '/data' },
    { name: 'config', mountPath: '/etc/nats', readOnly: true },
  ]);
  assert.deepEqual(nats.volumes, [{ name: 'config', configMap: { name: 'nats-config' } }]);

  const chosen = render({
    ...shippy,
    resources: {
      postgres: { ...shippy.resources.postgres!, image: 'registry.example.com/postgres:16.6' },
      nats: { ...shippy.resources.nats!, image: 'registry.example.com/nats:2.11.1' },
    },
  });
  assert.equal(pod(chosen, 'postgres').containers[0]!.image, 'registry.example.com/postgres:16.6');
  assert.equal(pod(chosen, 'nats').containers[0]!.image, 'registry.example.com/nats:2.11.1');
});

test('every berth process serves /healthz, /readyz and /metrics on its ops port, which no Service exposes', () => {
  const objects = render(shippy);
  for (const name of ['consignment', 'email', 'user', 'vessel', 'gateway']) {
    const pod = find<V1Deployment>(objects, 'Deployment', name).spec!.template;
    const container = pod.spec!.containers[0]!;
    assert.deepEqual(
      container.ports,
      [
        { name: 'http2', containerPort: 8080, protocol: 'TCP' },
        { name: 'ops', containerPort: 9090, protocol: 'TCP' },
      ],
      name,
    );
    assert.deepEqual(
      container.env?.find((variable) => variable.name === 'BERTH_OPS_PORT'),
      { name: 'BERTH_OPS_PORT', value: '9090' },
      name,
    );
    for (const [probe, path] of [
      [container.readinessProbe, '/readyz'],
      [container.livenessProbe, '/healthz'],
      [container.startupProbe, '/healthz'],
    ] as const) {
      assert.deepEqual(probe?.httpGet, { path, port: 'ops' }, name);
    }
    const { 'berth.dev/config-checksum': _checksum, ...scrape } = pod.metadata?.annotations ?? {};
    assert.deepEqual(scrape, {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9090',
      'prometheus.io/path': '/metrics',
    });
    // What `berth canary --analysis` reads through the pod proxy.
    assert.equal(metricsPort({ spec: pod.spec }), 9090, name);
    const service = find<V1Service>(objects, 'Service', name);
    assert.deepEqual(
      service.spec?.ports?.map((port) => port.targetPort),
      ['http2'],
      `${name}'s Service exposes its calls only`,
    );
    if (name !== 'gateway') assert.equal(service.metadata?.annotations?.['berth.dev/ops-port'], '9090');
  }
  const ops = find<V1NetworkPolicy>(objects, 'NetworkPolicy', 'shippy-ops');
  assert.deepEqual(ops.spec?.ingress, [
    { from: [{ namespaceSelector: {} }], ports: [{ port: 'ops', protocol: 'TCP' }] },
  ]);
  const gatewayPublic = find<V1NetworkPolicy>(objects, 'NetworkPolicy', 'shippy-gateway-public');
  assert.deepEqual(gatewayPublic.spec?.ingress, [{ ports: [{ port: 'http2', protocol: 'TCP' }] }]);
});

test("a change to one service's env rolls that service alone: its pod template's config checksum changes", () => {
  const before = render(shippy);
  const vessel = { ...shippy.services.vessel!, env: { ...shippy.services.vessel!.env, LOG_LEVEL: 'debug' } };
  const after = render({ ...shippy, services: { ...shippy.services, vessel } });
  const template = (objects: KubernetesObject[], name: string) =>
    JSON.stringify(find<V1Deployment>(objects, 'Deployment', name).spec?.template);
  for (const name of ['consignment', 'email', 'user', 'gateway']) {
    assert.equal(template(after, name), template(before, name), `${name} does not roll`);
  }
  const checksum = (objects: KubernetesObject[]) =>
    find<V1Deployment>(objects, 'Deployment', 'vessel').spec?.template.metadata?.annotations?.[
      'berth.dev/config-checksum'
    ];
  assert.match(String(checksum(before)), /^[0-9a-f]{16}$/);
  assert.notEqual(checksum(after), checksum(before));
});

test('a declared secret is required; a service that declares none references no Secret', () => {
  const objects = render(shippy);
  const envFrom = (name: string) =>
    find<V1Deployment>(objects, 'Deployment', name).spec?.template.spec?.containers[0]?.envFrom;
  // user declares JWT_SECRET: without user-secrets its pods must not start with a key of their own.
  assert.deepEqual(envFrom('user'), [
    { configMapRef: { name: 'user-config' } },
    { secretRef: { name: 'user-secrets' } },
  ]);
  assert.deepEqual(envFrom('vessel'), [{ configMapRef: { name: 'vessel-config' } }]);
});

test('every rendered object says which environment it was rendered for', () => {
  for (const object of render(shippy)) {
    if (object.kind === 'Namespace') continue;
    assert.equal(
      object.metadata?.labels?.['berth.dev/environment'],
      'production',
      `${object.kind}/${object.metadata?.name}`,
    );
  }
});

test('external PostgreSQL and NATS named by a Secret: their URLs come from it, and berth runs neither', () => {
  const system: SystemFile = {
    ...shippy,
    resources: {
      postgres: { ...shippy.resources.postgres!, embedded: false, urlSecret: { name: 'db', key: 'dsn' } },
      nats: { ...shippy.resources.nats!, urlSecret: { name: 'bus', key: 'url' } },
    },
  };
  const objects = render(system);
  assert.equal(objects.filter((object) => object.kind === 'StatefulSet').length, 0);
  const env = find<V1Deployment>(objects, 'Deployment', 'user').spec?.template.spec?.containers[0]?.env ?? [];
  assert.deepEqual(env.find((variable) => variable.name === 'DATABASE_URL')?.valueFrom, {
    secretKeyRef: { name: 'db', key: 'dsn' },
  });
  assert.deepEqual(env.find((variable) => variable.name === 'NATS_URL')?.valueFrom, {
    secretKeyRef: { name: 'bus', key: 'url' },
  });
});

test('every workload requests CPU and memory; multi-replica services spread over nodes; the gateway is sized in berth.yaml', () => {
  const gateway = { ...shippy.gateway, replicas: 3, resources: { cpu: '200m', memory: '128Mi' } };
  const objects = render({ ...shippy, gateway });
  for (const object of objects) {
    if (!podKinds.has(object.kind!)) continue;
    const pod = (object as V1Deployment | V1StatefulSet).spec?.template.spec;
    const requests = pod?.containers[0]?.resources?.requests;
    assert.ok(
      requests?.cpu && requests.memory,
      `${object.kind}/${object.metadata?.name} requests cpu and memory`,
    );
    const replicas = (object as V1Deployment).spec?.replicas ?? 1;
    assert.equal(
      pod?.topologySpreadConstraints?.[0]?.topologyKey,
      object.kind === 'Deployment' && replicas > 1 ? 'kubernetes.io/hostname' : undefined,
      `${object.metadata?.name} spreads iff it has several replicas`,
    );
  }
  const deployment = find<V1Deployment>(objects, 'Deployment', 'gateway');
  assert.equal(deployment.spec?.replicas, 3);
  assert.deepEqual(deployment.spec?.template.spec?.containers[0]?.resources, {
    requests: { cpu: '200m', memory: '128Mi' },
  });
  const single = render({ ...shippy, gateway: { ...shippy.gateway, replicas: 1 } });
  assert.equal(
    single.some((object) => object.kind === 'PodDisruptionBudget' && object.metadata?.name === 'gateway'),
    false,
  );
});

test('the namespace enforces Pod Security "restricted", which every rendered pod meets', () => {
  const objects = render(shippy);
  const labels = find<KubernetesObject>(objects, 'Namespace', 'shippy').metadata?.labels ?? {};
  assert.equal(labels['pod-security.kubernetes.io/enforce'], 'restricted');
  for (const object of objects) {
    if (!podKinds.has(object.kind!)) continue;
    const pod = (object as V1Deployment | V1StatefulSet | V1Job).spec!.template.spec!;
    const name = `${object.kind}/${object.metadata?.name}`;
    assert.equal(pod.securityContext?.runAsNonRoot, true, name);
    for (const container of pod.containers) {
      const security = container.securityContext;
      assert.equal(security?.allowPrivilegeEscalation, false, name);
      assert.deepEqual(security?.capabilities?.drop, ['ALL'], name);
      assert.equal(security?.seccompProfile?.type, 'RuntimeDefault', name);
    }
  }
});

test('only pods that watch the API server get a token and a RoleBinding: not postgres, nats or a static-registry service', () => {
  const vessel = shippy.services.vessel!;
  const objects = render({
    ...shippy,
    services: { ...shippy.services, vessel: { ...vessel, env: { ...vessel.env, BERTH_REGISTRY: 'static' } } },
  });
  const tokenOf = (kind: string, name: string) =>
    find<V1Deployment | V1StatefulSet>(objects, kind, name).spec?.template.spec?.automountServiceAccountToken;
  for (const name of ['postgres', 'nats']) assert.equal(tokenOf('StatefulSet', name), false, name);
  const rolesJob = objects.find((object) => object.kind === 'Job') as V1Job;
  assert.equal(rolesJob.spec?.template.spec?.automountServiceAccountToken, false);
  assert.equal(tokenOf('Deployment', 'vessel'), false);
  assert.equal(
    find<V1ServiceAccount>(objects, 'ServiceAccount', 'vessel').automountServiceAccountToken,
    false,
  );
  assert.equal(
    objects.some((object) => object.kind === 'RoleBinding' && object.metadata?.name === 'vessel-discovery'),
    false,
    'no RoleBinding for vessel',
  );
  // The gateway and the services on the kubernetes registry watch EndpointSlices.
  for (const name of ['gateway', 'user']) {
    assert.equal(tokenOf('Deployment', name), undefined, `${name}: its ServiceAccount mounts the token`);
    assert.equal(find<V1ServiceAccount>(objects, 'ServiceAccount', name).automountServiceAccountToken, true);
    find(objects, 'RoleBinding', `${name}-discovery`);
  }
});

test('each service that uses the in-cluster PostgreSQL logs in as its own role; a Job makes the roles before services start', () => {
  const objects = render(shippy);
  const users = ['consignment', 'email', 'user', 'vessel'].filter((name) =>
    shippy.services[name]!.uses.includes('postgres'),
  );
  assert.ok(users.length >= 2, 'shippy has several services on postgres');
  for (const name of users) {
    const env = find<V1Deployment>(objects, 'Deployment', name).spec?.template.spec?.containers[0]?.env ?? [];
    assert.deepEqual(
      env.find((variable) => variable.name === 'DATABASE_URL')?.valueFrom,
      { secretKeyRef: { name: `${name}-database`, key: 'url' } },
      `${name} connects with its own Secret, not the superuser's`,
    );
  }
  const jobs = objects.filter((object) => object.kind === 'Job') as V1Job[];
  assert.equal(jobs.length, 1);
  const job = jobs[0]!;
  assert.match(job.metadata!.name!, /^database-roles-[0-9a-f]{10}$/);
  const container = job.spec!.template.spec!.containers[0]!;
  assert.equal(container.image, shippy.resources.postgres!.image);
  assert.deepEqual(container.command, ['psql', '--no-psqlrc', '--file=/berth/roles.sql']);
  // Passwords come from Secrets only: no value in the Job, none in the script.
  for (const variable of container.env ?? []) {
    if (/PASSWORD/.test(variable.name)) assert.ok(variable.valueFrom?.secretKeyRef, variable.name);
  }
  assert.deepEqual(
    (container.env ?? [])
      .filter((variable) => variable.name.startsWith('BERTH_PASSWORD_'))
      .map((variable) => variable.valueFrom?.secretKeyRef),
    users.map((name) => ({ name: `${name}-database`, key: 'password' })),
  );
  const script = find<V1ConfigMap>(objects, 'ConfigMap', 'database-roles').data!['roles.sql']!;
  for (const name of users) assert.match(script, new RegExp(`ALTER ROLE "${name}" WITH LOGIN NOSUPERUSER`));
  assert.doesNotMatch(script, /PASSWORD '/, 'no password literal in the script');

  // Its name follows what it does: the same release renders the same Job; another user, another Job.
  assert.equal(
    (render(shippy).find((object) => object.kind === 'Job') as V1Job).metadata?.name,
    job.metadata?.name,
  );
  const vessel = shippy.services.vessel!;
  const withoutVessel = render({
    ...shippy,
    services: {
      ...shippy.services,
      vessel: { ...vessel, uses: vessel.uses.filter((kind) => kind !== 'postgres') },
    },
  });
  assert.notEqual(
    (withoutVessel.find((object) => object.kind === 'Job') as V1Job).metadata?.name,
    job.metadata?.name,
  );

  // The Job's pod may reach DNS and postgres, nothing else.
  const egress = find<V1NetworkPolicy>(objects, 'NetworkPolicy', 'shippy-egress-database-roles');
  assert.deepEqual(egress.spec?.podSelector?.matchExpressions, [
    { key: 'app.kubernetes.io/name', operator: 'In', values: ['database-roles'] },
  ]);
  assert.deepEqual(
    egress.spec?.egress?.map((rule) => rule.ports?.map((port) => port.port)),
    [[53, 53], ['postgres']],
  );

  // An external database: no roles of berth's, no Job.
  const external = render({
    ...shippy,
    resources: {
      ...shippy.resources,
      postgres: { ...shippy.resources.postgres!, urlSecret: { name: 'db', key: 'dsn' } },
    },
  });
  assert.equal(
    external.some((object) => object.kind === 'Job' || object.metadata?.name === 'database-roles'),
    false,
  );
});

test('each service that uses the in-cluster NATS connects as its own user; the server takes no one else', () => {
  const objects = render(shippy);
  const users = Object.values(shippy.services)
    .filter((service) => service.uses.includes('nats'))
    .map((service) => service.name)
    .sort();
  assert.ok(users.length >= 2, 'shippy has several services on nats');
  for (const name of users) {
    const env = find<V1Deployment>(objects, 'Deployment', name).spec?.template.spec?.containers[0]?.env ?? [];
    assert.deepEqual(
      env.find((variable) => variable.name === 'NATS_URL')?.valueFrom,
      { secretKeyRef: { name: `${name}-nats`, key: 'url' } },
      name,
    );
  }
  const config = find<V1ConfigMap>(objects, 'ConfigMap', 'nats-config').data!['nats.conf']!;
  assert.equal(
    config,
    [
      'authorization {',
      '  users: [',
      ...users.map(
        (name) =>
          `    { user: "${name}", password: $BERTH_PASSWORD_${name.replaceAll('-', '_').toUpperCase()} }`,
      ),
      '  ]',
      '}',
      '',
    ].join('\n'),
  );
  const nats = find<V1StatefulSet>(objects, 'StatefulSet', 'nats').spec!.template;
  assert.deepEqual(
    nats.spec!.containers[0]!.env,
    users.map((name) => ({
      name: `BERTH_PASSWORD_${name.replaceAll('-', '_').toUpperCase()}`,
      valueFrom: { secretKeyRef: { name: `${name}-nats`, key: 'password' } },
    })),
  );
  // Another user changes the file, and so the template: the server restarts with it.
  const vessel = shippy.services.vessel!;
  const more = render({
    ...shippy,
    services: { ...shippy.services, vessel: { ...vessel, uses: [...vessel.uses, 'nats'] } },
  });
  const checksum = (template: typeof nats) => template.metadata?.annotations?.['berth.dev/config-checksum'];
  assert.ok(checksum(nats));
  assert.notEqual(checksum(find<V1StatefulSet>(more, 'StatefulSet', 'nats').spec!.template), checksum(nats));
});
