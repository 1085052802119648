/**
 * What `berth manifests` renders for shippy is what a real API server accepts,
 * field for field (server-side dry run with strict field validation), and a
 * broken system file stops berth before it talks to any cluster.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { loadSystemFile, type SystemFile } from '../../src/config/system-file.ts';
import { dryRun } from '../../src/kube/dry-run.ts';
import { renderManifests } from '../../src/kube/manifests.ts';
import { createRelease } from '../../src/kube/release.ts';
import { repoRoot } from '../support/processes.ts';
import { berth, copyShippy, renderTagged, shippyNamespace, show } from './cluster.ts';

const kube = shippyNamespace('berth-manifests');
const { namespace, cleanup } = kube;

test('every object rendered for shippy (production) passes a strict server-side dry run', async () => {
  const shippy = loadSystemFile(join(repoRoot, 'examples/shippy'), { env: 'production' });
  const release = createRelease({ ...shippy, namespace });
  const objects = renderManifests(release.system, { tags: release.tags });
  const kinds = objects.map((object) => `${object.kind}/${object.metadata?.name}`);
  for (const expected of [
    `Namespace/${namespace}`,
    'Role/shippy-discovery',
    'NetworkPolicy/shippy-internal',
    'StatefulSet/postgres',
    'StatefulSet/nats',
    'Deployment/vessel',
    'PodDisruptionBudget/vessel',
    'RoleBinding/user-discovery',
    'ConfigMap/consignment-config',
    'Service/gateway',
    'Deployment/gateway',
  ]) {
    assert.ok(kinds.includes(expected), `${expected} is rendered (got ${kinds.join(', ')})`);
  }

  const { problems } = await dryRun(kube.client, release);
  assert.deepEqual(problems, [], 'the API server accepts every object as rendered');

  // The same dry run does reject what it should: otherwise accepting proves nothing.
  const deployment = structuredClone(objects.find((object) => object.kind === 'Deployment')!);
  (deployment as { spec: Record<string, unknown> }).spec.replica = 3;
  await assert.rejects(
    kube.client.apply(deployment, { dryRun: true }),
    /replica: field not declared in schema/,
  );
  const wrongType = structuredClone(objects.find((object) => object.kind === 'Service')!);
  (wrongType as { spec: { ports: Array<Record<string, unknown>> } }).spec.ports[0]!.port = 'eighty';
  await assert.rejects(kube.client.apply(wrongType, { dryRun: true }), /port: expected numeric/);
});

test('an autoscaled service and one on the static registry (no API token) pass the strict dry run too', async () => {
  const shippy = loadSystemFile(join(repoRoot, 'examples/shippy'), { env: 'production' });
  const { vessel, email } = shippy.services;
  const services = {
    ...shippy.services,
    vessel: { ...vessel!, autoscale: { min: 2, max: 6, cpu: 75 } },
    email: { ...email!, env: { ...email!.env, BERTH_REGISTRY: 'static' } },
  };
  const release = createRelease({ ...shippy, namespace, services });
  const objects = renderManifests(release.system, { tags: release.tags });
  const kinds = objects.map((object) => `${object.kind}/${object.metadata?.name}`);
  assert.ok(kinds.includes('HorizontalPodAutoscaler/vessel'));
  assert.ok(!kinds.includes('RoleBinding/email-discovery'));
  const { problems } = await dryRun(kube.client, release);
  assert.deepEqual(problems, [], 'the API server accepts every object as rendered');
});

test('berth deploy --dry-run validates through the CLI; berth manifests is stable YAML without aliases', async () => {
  const copy = copyShippy({ namespace, registry: 'registry.test/shippy' }, cleanup);
  const dry = await berth(kube.cluster, [
    'deploy',
    '--dry-run',
    '-f',
    copy.dir,
    '--env',
    'test',
    '--tag',
    'r1',
  ]);
  assert.equal(dry.code, 0, show(dry));
  assert.match(dry.stdout, /all objects of shippy accepted by .* \(dry run\)/);

  const first = await berth(kube.cluster, ['manifests', '-f', copy.dir, '--env', 'test', '--tag', 'r1']);
  const second = await berth(kube.cluster, ['manifests', '-f', copy.dir, '--env', 'test', '--tag', 'r1']);
  assert.equal(first.code, 0, show(first));
  assert.equal(second.stdout, first.stdout, 'the same sources and tags give the same bytes');
  assert.doesNotMatch(first.stdout, /[&*]a\d+\b/, 'no YAML anchors or aliases');
  const documents = parseAllDocuments(first.stdout).map((document) => document.toJS());
  const expected = renderTagged(loadSystemFile(copy.file, { env: 'test' }));
  assert.equal(documents.length, expected.length);
  const images = documents
    .filter((object) => object.kind === 'Deployment')
    .map((object) => object.spec.template.spec.containers[0].image);
  assert.deepEqual(images.sort(), [
    'registry.test/shippy/shippy-consignment:r1',
    'registry.test/shippy/shippy-email:r1',
    'registry.test/shippy/shippy-gateway:r1',
    'registry.test/shippy/shippy-user:r1',
    'registry.test/shippy/shippy-vessel:r1',
  ]);

  // What each Service's pods serve, for typed clients; postgres and nats as their images' own users.
  const named = (kind: string, name: string) =>
    documents.find((object) => object.kind === kind && object.metadata.name === name);
  assert.equal(
    named('Service', 'vessel').metadata.annotations['berth.dev/proto-services'],
    'shippy.vessel.v1.VesselService',
  );
  for (const [name, image, userId] of [
    ['postgres', 'postgres:16.4-bookworm', 999],
    ['nats', 'nats:2.10.22-alpine', 1000],
  ] as const) {
    const pod = named('StatefulSet', name).spec.template.spec;
    assert.equal(pod.containers[0].image, image);
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, fsGroup: userId });
    assert.equal(pod.containers[0].securityContext.runAsUser, userId);
    assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
  }
});

test('an unknown field or a wrong type in berth.yaml is rejected before anything is sent', async (t) => {
  // A "cluster" that only counts connections: berth must not open one.
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const port = (server.address() as { port: number }).port;

  const copy = copyShippy({ namespace, registry: 'registry.test/shippy' }, cleanup);
  copy.edit((system) => {
    system.services.vessel!.replica = 3;
    system.environments.test.services!.user.replicas = 'three';
  });
  const kubeconfig = join(copy.dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'u', user: { token: 'x' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  const result = await berth({ ...kube.cluster, kubeconfig, context: undefined }, [
    'deploy',
    '-f',
    copy.dir,
    '--env',
    'test',
  ]);
  assert.equal(result.code, 5 /* failed */, show(result));
  assert.match(
    result.stderr,
    /berth\.yaml: services\.vessel\.replica: unknown key \(did you mean "replicas"\?\).*\(line \d+\)/,
  );
  assert.match(
    result.stderr,
    /berth\.yaml: environments\.test\.services\.user\.replicas: expected number, got string "three" \(line \d+\)/,
  );
  assert.doesNotMatch(result.stdout, /deploying/);
  assert.equal(connections, 0, 'no connection to the cluster');
});

test('postgres and nats sized in berth.yaml, and a service’s own egress, pass the strict dry run', async () => {
  const shippy = loadSystemFile(join(repoRoot, 'examples/shippy'), { env: 'production' });
  const server = { resources: { cpu: '500m', memory: '1Gi', limits: { memory: '2Gi' } } };
  const vessel = {
    ...shippy.services.vessel!,
    egress: [
      { port: 443, cidr: '203.0.113.0/24', protocol: 'TCP' as const },
      { port: 5353, cidr: '2001:db8::/32', protocol: 'UDP' as const },
    ],
  };
  const release = createRelease({
    ...shippy,
    namespace,
    resources: {
      postgres: {
        ...shippy.resources.postgres!,
        ...server,
        storage: { size: '20Gi', className: 'fast-ssd' },
      },
      nats: { ...shippy.resources.nats!, ...server, storage: { size: '5Gi' } },
    },
    services: { ...shippy.services, vessel },
  });
  const kinds = renderManifests(release.system, { tags: release.tags }).map(
    (object) => `${object.kind}/${object.metadata?.name}`,
  );
  assert.ok(
    kinds.includes('NetworkPolicy/shippy-vessel-egress') &&
      kinds.includes('NetworkPolicy/shippy-email-egress'),
  );
  const { problems } = await dryRun(kube.client, release);
  assert.deepEqual(problems, [], 'the API server accepts every object as rendered');
});

test('a claim berth.yaml resizes on an existing StatefulSet is refused before anything changes, saying what to do', async () => {
  const copy = copyShippy({ namespace, registry: 'registry.test/shippy' }, cleanup);
  const statefulSet = (system: SystemFile) =>
    renderTagged(system).find(
      (object) => object.kind === 'StatefulSet' && object.metadata?.name === 'postgres',
    ) as V1StatefulSet;
  const deployed = loadSystemFile(copy.file, { env: 'test' });
  // As a first deploy leaves it: the namespace, and postgres as berth.yaml then said (1Gi).
  await kube.client.apply(renderTagged(deployed).find((object) => object.kind === 'Namespace')!);
  await kube.client.apply(statefulSet(deployed));
  const claimOf = async () =>
    (await kube.client.get<V1StatefulSet>('apps/v1', 'StatefulSet', namespace, 'postgres'))!.spec!
      .volumeClaimTemplates![0]!.spec!.resources!.requests!.storage;
  const resizedTo = (size: string) =>
    copy.edit((system) => {
      system.environments.test.resources = { postgres: { storage: { size } } };
    });

  // The same size written another way is no change.
  resizedTo('1024Mi');
  assert.deepEqual(
    (await dryRun(kube.client, createRelease(loadSystemFile(copy.file, { env: 'test' })))).problems,
    [],
  );

  resizedTo('10Gi');
  const resized = loadSystemFile(copy.file, { env: 'test' });
  // What the API server itself says: true, but not what to do.
  await assert.rejects(
    kube.client.apply(statefulSet(resized), { dryRun: true }),
    /Forbidden: updates to statefulset spec/,
  );
  const result = await berth(kube.cluster, ['deploy', '-f', copy.dir, '--env', 'test', '--tag', 'r1']);
  assert.equal(result.code, 5 /* failed */, show(result));
  assert.match(
    result.stderr,
    new RegExp(
      'StatefulSet/postgres: resources\\.postgres\\.storage asks 10Gi of the default class for claim "data", ' +
        "but the cluster's StatefulSet was made with 1Gi of the default class, .*" +
        `kubectl -n ${namespace} patch pvc data-postgres-0 .*delete statefulset postgres --cascade=orphan`,
    ),
  );
  assert.match(result.stderr, /nothing was changed/);
  assert.equal(await claimOf(), '1Gi', 'the StatefulSet is as it was');
});
