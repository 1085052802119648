/**
 * Egress as rendered: for each pod template berth renders, the union of the
 * egress rules of every policy that selects it (what a CNI enforces), read back
 * as the destinations the pod may reach.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KubernetesObject, V1NetworkPolicy, V1PodTemplateSpec } from '@kubernetes/client-node';
import { loadSystemFile, type SystemFile } from '../config/system-file.ts';
import { renderManifests } from './manifests.ts';
import { apiServerPorts } from './network-policies.ts';
import { imageNames } from './release.ts';

const shippy = loadSystemFile(join(import.meta.dirname, '../../examples/shippy'), { env: 'production' });

function render(system: SystemFile): KubernetesObject[] {
  const tags = Object.fromEntries(imageNames(system).map((name) => [name, 'r1']));
  return renderManifests(system, { tags, canaries: { vessel: { tag: 'r2', replicas: 1 } } });
}

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

function selects(selector: Selector, labels: Record<string, string>): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpression = (selector.matchExpressions ?? []).every((expression) => {
    assert.equal(expression.operator, 'In', 'berth renders only In expressions');
    return expression.values!.includes(labels[expression.key]!);
  });
  return byLabel && byExpression;
}

/** Every pod template (Deployments, canaries and StatefulSets), by its workload's name. */
function podTemplates(objects: KubernetesObject[]): Map<string, V1PodTemplateSpec> {
  return new Map(
    objects
      .filter((object) => object.kind === 'Deployment' || object.kind === 'StatefulSet')
      .map((object) => [
        object.metadata!.name!,
        (object as { spec: { template: V1PodTemplateSpec } }).spec.template,
      ]),
  );
}

/**
 * What a pod may reach, one line per destination and port: `pods <names>:<port>`,
 * `dns <port>/<protocol>`, `<cidr>:<port>`. Undefined: no egress policy selects it
 * (it may reach anything).
 */
function destinations(objects: KubernetesObject[], podLabels: Record<string, string>): string[] | undefined {
  const policies = (objects.filter((object) => object.kind === 'NetworkPolicy') as V1NetworkPolicy[]).filter(
    (policy) =>
      policy.spec!.policyTypes?.includes('Egress') &&
      selects(policy.spec!.podSelector as Selector, podLabels),
  );
  if (policies.length === 0) return undefined;
  const reached = new Set<string>();
  for (const policy of policies) {
    for (const rule of policy.spec!.egress ?? []) {
      for (const peer of rule.to ?? []) {
        for (const { port, protocol } of rule.ports ?? []) {
          if (peer.ipBlock) reached.add(`${peer.ipBlock.cidr}:${port}`);
          else if (peer.namespaceSelector) {
            assert.deepEqual(peer.namespaceSelector.matchLabels, {
              'kubernetes.io/metadata.name': 'kube-system',
            });
            assert.deepEqual(peer.podSelector?.matchLabels, { 'k8s-app': 'kube-dns' });
            reached.add(`dns ${port}/${protocol}`);
          } else {
            const selector = peer.podSelector as Selector;
            const names = selector.matchExpressions?.[0]?.values ?? [
              selector.matchLabels!['app.kubernetes.io/name'],
            ];
            assert.equal(
              selector.matchLabels!['app.kubernetes.io/part-of'],
              'shippy',
              'only pods of the system',
            );
            reached.add(`pods ${[...names].join(',')}:${port}`);
          }
        }
      }
    }
  }
  return [...reached].sort();
}

function reachableFrom(objects: KubernetesObject[], name: string): string[] | undefined {
  const template = podTemplates(objects).get(name);
  assert.ok(template, `${name} has a pod template`);
  return destinations(objects, template.metadata!.labels!);
}

const services = 'pods consignment,email,user,vessel';
const dns = ['dns 53/TCP', 'dns 53/UDP'];
const apiServer = apiServerPorts.flatMap((port) => [`0.0.0.0/0:${port}`, `::/0:${port}`]);
/** What shippy's production `email` lists in its own `egress` (SMTP submission, any address). */
const smtp = ['0.0.0.0/0:587', '::/0:587'];

test('each shippy pod reaches DNS, the services, and the API server, postgres and nats only where it needs them', () => {
  const objects = render(shippy);
  const common = [...dns, `${services}:http2`, ...apiServer];
  assert.deepEqual(reachableFrom(objects, 'vessel'), [...common, 'pods postgres:postgres'].sort());
  assert.deepEqual(reachableFrom(objects, 'consignment'), [...common, 'pods postgres:postgres'].sort());
  assert.deepEqual(
    reachableFrom(objects, 'user'),
    [...common, 'pods nats:nats', 'pods postgres:postgres'].sort(),
  );
  assert.deepEqual(reachableFrom(objects, 'gateway'), [...common, `${services}:ops`].sort());
  assert.deepEqual(
    reachableFrom(objects, 'vessel-canary'),
    reachableFrom(objects, 'vessel'),
    'canary as stable',
  );
  assert.deepEqual(reachableFrom(objects, 'postgres'), [], 'postgres opens no connection');
  assert.deepEqual(reachableFrom(objects, 'nats'), [], 'nats opens no connection');
  // Said without an empty `egress: []`, which the API server drops: the deploy would see a change every time.
  const none = objects.find(
    (object) => object.metadata?.name === 'shippy-egress-resources',
  ) as V1NetworkPolicy;
  assert.deepEqual(Object.keys(none.spec!).sort(), ['podSelector', 'policyTypes']);
});

test('exactly the pods that mount an API token may reach the API server', () => {
  const email = { ...shippy.services.email!, env: { BERTH_REGISTRY: 'static' } };
  const objects = render({ ...shippy, services: { ...shippy.services, email } });
  for (const [name, template] of podTemplates(objects)) {
    const hasToken = template.spec!.automountServiceAccountToken !== false;
    const reached = destinations(objects, template.metadata!.labels!)!;
    assert.equal(
      apiServer.every((destination) => reached.includes(destination)),
      hasToken,
      `${name}: API egress ${hasToken ? 'with' : 'without'} a token`,
    );
  }
  assert.deepEqual(
    reachableFrom(objects, 'email'),
    [...dns, `${services}:http2`, ...smtp, 'pods nats:nats', 'pods postgres:postgres'].sort(),
  );
});

test('a service’s own egress: each port within its cidr (else anywhere), for its pods and its canary’s only', () => {
  const vessel = {
    ...shippy.services.vessel!,
    egress: [
      { port: 443, cidr: '203.0.113.0/24', protocol: 'TCP' as const },
      { port: 5353, cidr: '2001:db8::/32', protocol: 'UDP' as const },
    ],
  };
  const objects = render({ ...shippy, services: { ...shippy.services, vessel } });
  const own = ['203.0.113.0/24:443', '2001:db8::/32:5353'];
  const reached = reachableFrom(objects, 'vessel')!;
  assert.ok(
    own.every((destination) => reached.includes(destination)),
    reached.join(', '),
  );
  assert.deepEqual(reachableFrom(objects, 'vessel-canary'), reached, 'canary as stable');
  for (const name of ['consignment', 'user', 'gateway', 'email']) {
    assert.ok(
      !reachableFrom(objects, name)!.some((destination) => own.includes(destination)),
      `${name} does not reach vessel's own destinations`,
    );
  }
  const policy = objects.find(
    (object) => object.metadata?.name === 'shippy-vessel-egress',
  ) as V1NetworkPolicy;
  assert.deepEqual(
    policy.spec!.egress!.flatMap((rule) => rule.ports),
    [
      { port: 443, protocol: 'TCP' },
      { port: 5353, protocol: 'UDP' },
    ],
  );
  // One policy per service that lists destinations: shippy's production lists some for email only.
  const perService = objects
    .filter((object) => object.kind === 'NetworkPolicy' && /^shippy-.+-egress$/.test(object.metadata!.name!))
    .map((object) => object.metadata!.name);
  assert.deepEqual(perService.sort(), ['shippy-email-egress', 'shippy-vessel-egress']);
});

test('external resources and an OTLP collector are reached on their URLs’ ports, an IP address as itself', () => {
  const objects = render({
    ...shippy,
    resources: {
      postgres: { ...shippy.resources.postgres!, embedded: false, url: 'postgres://10.1.2.3:6432/shippy' },
      nats: { ...shippy.resources.nats!, url: 'nats://192.0.2.7:4222,nats://nats-2.example.com' },
    },
    telemetry: { otlpEndpoint: 'http://otel-collector.observability:4318' },
  });
  const user = reachableFrom(objects, 'user')!;
  assert.ok(user.includes('10.1.2.3/32:6432'), 'postgres at its address and port');
  assert.ok(!user.includes('pods postgres:postgres'), 'no in-cluster postgres');
  // Each server of a NATS list; one named by host is on NATS's usual port, at any address.
  assert.ok(user.includes('192.0.2.7/32:4222'), 'the first nats server at its address');
  assert.ok(user.includes('0.0.0.0/0:4222') && user.includes('::/0:4222'), 'the second on its usual port');
  for (const name of ['vessel', 'gateway']) {
    assert.ok(reachableFrom(objects, name)!.includes('0.0.0.0/0:4318'), `${name} reaches the collector`);
  }
  assert.ok(
    !reachableFrom(objects, 'vessel')!.some((destination) => destination.endsWith(':4222')),
    'vessel uses no nats',
  );
  assert.equal(podTemplates(objects).has('postgres'), false);
  assert.equal(podTemplates(objects).has('nats'), false);
});

test('a URL whose port cannot be known is refused, naming the key', () => {
  assert.throws(
    () => render({ ...shippy, telemetry: { otlpEndpoint: 'ftp://collector.example.com' } }),
    /telemetry\.otlpEndpoint: "ftp:\/\/collector\.example\.com" names no port and ftp: has no usual one; add :<port>/,
  );
});

test('a URL in a Secret is reached on its protocol’s usual port at any address', () => {
  const objects = render({
    ...shippy,
    resources: {
      ...shippy.resources,
      postgres: { ...shippy.resources.postgres!, embedded: false, urlSecret: { name: 'db', key: 'url' } },
    },
  });
  const vessel = reachableFrom(objects, 'vessel')!;
  assert.ok(vessel.includes('0.0.0.0/0:5432') && vessel.includes('::/0:5432'), vessel.join(', '));
  assert.deepEqual(reachableFrom(objects, 'nats'), [], 'the in-cluster nats still reaches nothing');
  assert.equal(podTemplates(objects).has('postgres'), false);
});

test('a system that uses no nats gets no nats policy, and every rendered pod is held by an egress policy', () => {
  const withoutNats = Object.fromEntries(
    Object.entries(shippy.services).map(([name, service]) => [
      name,
      { ...service, uses: service.uses.filter((kind) => kind !== 'nats') },
    ]),
  );
  const objects = render({ ...shippy, services: withoutNats });
  const names = objects
    .filter((object) => object.kind === 'NetworkPolicy')
    .map((object) => object.metadata!.name);
  assert.ok(!names.includes('shippy-egress-nats'), `no nats egress (got ${names.join(', ')})`);
  assert.ok(!reachableFrom(objects, 'user')!.some((destination) => destination.includes('nats')));
  for (const [name, template] of podTemplates(objects)) {
    assert.ok(destinations(objects, template.metadata!.labels!), `${name} is selected by an egress policy`);
  }
});
