/**
 * shippy on real pods: images built here with `berth build --load` (no registry),
 * `berth deploy` onto the test cluster's real node (tools/k8s, BERTH_K8S_REAL_NODE=1),
 * then driven through the gateway's NodePort as a user would, and checked from
 * the node itself: what the container runtime runs, as which user, on which root.
 *
 * One on.namespace, in order: each test starts from the state the previous one leaves.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { before, test } from 'node:test';
import type { V1ConfigMap, V1Deployment, V1Job, V1Pod, V1Secret } from '@kubernetes/client-node';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { natsServers } from '../../src/broker/nats-servers.ts';
import { berth, type ServiceYaml, show } from '../kube/cluster.ts';
import { rpc } from '../runner/berth-run.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { describeFailures, startLoad } from '../support/load.ts';
import { waitFor } from '../support/wait.ts';
import { containerProcess } from './node.ts';
import {
  buildTimeoutMs,
  deployTimeoutMs,
  gatewayUrl,
  type ShippyOnNode,
  shippyOnNode,
} from './shippy-on-node.ts';

const cleanup = fileCleanup();
let on: ShippyOnNode;
let gateway: string;

before(async () => {
  on = await shippyOnNode('shippy-pods', cleanup);
});

const client = () => on.client;
const release = (...tags: string[]) => on.release(...tags);
/** The next release of vessel and consignment: the same sources under new tags. */
const nextRelease = () => [`vessel=r2-${on.runId}`, `consignment=r2-${on.runId}`];

async function pods(): Promise<V1Pod[]> {
  return (await client().list<V1Pod>('v1', 'Pod', on.namespace, 'app.kubernetes.io/part-of=shippy')).items;
}

test('berth build --load builds every image with the local engine and loads it into the node', async () => {
  const result = await berth(on.cluster, ['build', ...release(), '--load'], buildTimeoutMs);
  assert.equal(result.code, 0, show(result));
  const manifests = await berth(on.cluster, ['manifests', ...release()]);
  assert.equal(manifests.code, 0, show(manifests));
  const images = [...manifests.stdout.matchAll(/image: (registry\.test\/shippy\/\S+)/g)].map((m) => m[1]!);
  assert.equal(new Set(images).size, 5, `one image per service and the gateway: ${images.join(', ')}`);
  const loaded = on.node.images();
  for (const image of images) assert.ok(loaded.includes(image), `${image} is in the node's containerd`);
});

test('berth deploy runs shippy on the real node: every pod Running and Ready there', async () => {
  const result = await berth(on.cluster, ['deploy', ...release(), '--timeout', '540'], deployTimeoutMs);
  assert.equal(result.code, 0, show(result));
  const all = await pods();
  // The database roles Job ran once, on the real node, before any service started.
  const [rolesPod, ...moreRolesPods] = all.filter(
    (pod) => pod.metadata?.labels?.['batch.kubernetes.io/job-name'],
  );
  assert.equal(moreRolesPods.length, 0, 'the roles Job succeeded at its first try');
  assert.equal(rolesPod?.status?.phase, 'Succeeded', show(result));
  assert.equal(rolesPod?.spec?.nodeName, on.node.name);
  const running = all.filter((pod) => pod !== rolesPod);
  assert.ok(
    running.length >= 9,
    `gateway ×2, vessel ×2, consignment ×2, user, email, postgres, nats: ${running.length}`,
  );
  for (const pod of running) {
    assert.equal(pod.spec?.nodeName, on.node.name, `${pod.metadata?.name} runs on the real node`);
    assert.equal(pod.status?.phase, 'Running', pod.metadata?.name);
    const ready = pod.status?.conditions?.find((condition) => condition.type === 'Ready')?.status;
    assert.equal(ready, 'True', `${pod.metadata?.name} passed its readiness probe`);
  }
});

test('berth status prints a gateway URL this machine reaches', async () => {
  gateway = await gatewayUrl(on);
});

test('through the gateway: the seed, users, and a consignment that calls user and vessel in the cluster', async () => {
  const email = `pods-${on.runId}@shippy.test`;
  const user = await rpc(gateway, {
    service: 'user',
    method: 'UserService.Create',
    request: { name: 'Ewan', company: 'shippy', email, password: 'correct horse battery' },
  });
  assert.equal(user.status, 200, JSON.stringify(user.body));
  const auth = await rpc(gateway, {
    service: 'user',
    method: 'UserService.Auth',
    request: { email, password: 'correct horse battery' },
  });
  assert.equal(auth.status, 200, JSON.stringify(auth.body));
  const token = auth.body.token as string;

  // vessel → user (ValidateToken) in the cluster: Create needs a signed-in caller.
  const vessel = await rpc(
    gateway,
    {
      service: 'vessel',
      method: 'VesselService.Create',
      request: { name: `pods-${on.runId}`, capacity: 200, max_weight: 100000, available: true },
    },
    { authorization: `Bearer ${token}` },
  );
  assert.equal(vessel.status, 200, JSON.stringify(vessel.body));
  assert.equal(vessel.body.created, true);

  const containers = Array.from({ length: 3 }, (_, i) => ({ customer_id: `c${i}`, origin: 'Rotterdam' }));
  const created = await rpc(
    gateway,
    {
      service: 'consignment',
      method: 'ConsignmentService.Create',
      request: { description: `pods ${on.runId}`, weight: 55000, containers },
    },
    { authorization: `Bearer ${token}` },
  );
  // consignment → user (ValidateToken) and → vessel (Reserve) over the EndpointSlice registry.
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.ok((created.body.consignment as { vessel_id?: string }).vessel_id, JSON.stringify(created.body));
  const mine = await rpc(
    gateway,
    { service: 'consignment', method: 'ConsignmentService.Get', request: {} },
    { authorization: `Bearer ${token}` },
  );
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  const descriptions = (mine.body.consignments as Array<{ description: string }>).map((c) => c.description);
  assert.deepEqual(descriptions, [`pods ${on.runId}`]);

  const userId = (user.body.user as { id: string }).id;
  // The welcome mail went user → NATS JetStream → email; its log line names the user.
  await waitFor(
    async () => {
      const logs = await berth(on.cluster, [
        'logs',
        'email',
        '--cluster',
        '--file',
        on.shippy.dir,
        '--env',
        'test',
      ]);
      return logs.code === 0 && logs.stdout.includes('welcome mail sent') && logs.stdout.includes(userId);
    },
    {
      timeoutMs: 120_000,
      intervalMs: 1000,
      what: `the welcome mail for ${userId} in berth logs --cluster email`,
    },
  );
});

test("each service logs in to PostgreSQL as its own role, with its own password, and cannot read another's schema", async () => {
  const [postgres] = (
    await client().list<V1Pod>('v1', 'Pod', on.namespace, 'app.kubernetes.io/name=postgres')
  ).items;
  const podIp = postgres?.status?.podIP;
  assert.ok(podIp, 'postgres-0 has an address on the bridge');
  /** The service's DATABASE_URL from its Secret, pointed at the pod (this machine has no cluster DNS). */
  const loginOf = async (service: string) => {
    const secret = await client().get<V1Secret>('v1', 'Secret', on.namespace, `${service}-database`);
    const url = new URL(Buffer.from(secret!.data!.url!, 'base64').toString());
    assert.equal(url.username, service);
    url.hostname = podIp;
    return url;
  };
  const query = async (url: URL, sql: string) => {
    const connection = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 10_000 });
    await connection.connect();
    try {
      return await connection.query(sql);
    } finally {
      await connection.end();
    }
  };
  const refused = (url: URL, sql: string) =>
    query(url, sql).then(
      () => 'allowed',
      (error: Error) => error.message,
    );
  const vessel = await loginOf('vessel');
  const user = await loginOf('user');
  // The tables the services made at start, under their roles: the previous test wrote rows through them.
  assert.ok((await query(vessel, 'SELECT count(*)::int AS n FROM vessel.vessels')).rows[0].n >= 1);
  assert.ok((await query(user, 'SELECT count(*)::int AS n FROM "user".users')).rows[0].n >= 1);
  assert.match(await refused(vessel, 'SELECT * FROM "user".users'), /permission denied for schema user/);
  assert.match(await refused(user, 'SELECT * FROM vessel.vessels'), /permission denied for schema vessel/);
  assert.match(await refused(vessel, 'CREATE ROLE intruder'), /permission denied to create role/);
  const wrongPassword = new URL(vessel);
  wrongPassword.password = 'not-the-password';
  assert.match(await refused(wrongPassword, 'SELECT 1'), /password authentication failed for user "vessel"/);
});

test('NATS takes each service by its own user and password, and no anonymous client', async () => {
  const [nats] = (await client().list<V1Pod>('v1', 'Pod', on.namespace, 'app.kubernetes.io/name=nats')).items;
  const podIp = nats?.status?.podIP;
  assert.ok(podIp, 'nats-0 has an address on the bridge');
  const secret = await client().get<V1Secret>('v1', 'Secret', on.namespace, 'user-nats');
  const url = new URL(Buffer.from(secret!.data!.url!, 'base64').toString());
  assert.equal(url.username, 'user');
  url.hostname = podIp;
  const connection = await connect({ ...natsServers(url.toString()), timeout: 10_000 });
  await connection.flush();
  await connection.close();
  await assert.rejects(
    connect({ servers: `nats://${podIp}:4222`, timeout: 10_000 }),
    /Authorization Violation/,
  );
  await assert.rejects(
    connect({ servers: `nats://${podIp}:4222`, user: 'user', pass: 'not-the-password', timeout: 10_000 }),
    /Authorization Violation/,
  );
});

test('a roles Job that cannot log in rolls the release back, with psql’s own error as the reason', async () => {
  const secret = (await client().get<V1Secret>('v1', 'Secret', on.namespace, 'postgres-credentials'))!;
  const restore = () =>
    client().mergePatch('v1', 'Secret', on.namespace, 'postgres-credentials', { data: secret.data });
  // The superuser's password in the Secret no longer matches the server's, and the finished Job is
  // gone (as docs/kubernetes.md says for a rotation), so this deploy runs the Job again.
  await client().mergePatch('v1', 'Secret', on.namespace, 'postgres-credentials', {
    stringData: { password: 'not-the-password' },
  });
  try {
    const jobs = await client().list<V1Job>(
      'batch/v1',
      'Job',
      on.namespace,
      'app.kubernetes.io/part-of=shippy',
    );
    for (const job of jobs.items) await client().delete('batch/v1', 'Job', on.namespace, job.metadata!.name!);
    const result = await berth(on.cluster, ['deploy', ...release(), '--timeout', '540'], deployTimeoutMs);
    assert.equal(result.code, 1 /* rolled back */, show(result));
    assert.match(
      result.stderr,
      /database-roles-[0-9a-f]{10}: job database-roles-[0-9a-f]{10} failed: BackoffLimitExceeded/,
    );
    assert.match(result.stderr, /password authentication failed for user "postgres"/);
    assert.match(result.stderr, /see kubectl -n \S+ logs job\/database-roles-/);
  } finally {
    await restore();
  }
  // The services kept serving under their own roles meanwhile: nothing of theirs changed.
  const vessels = await rpc(gateway, {
    service: 'vessel',
    method: 'VesselService.FindAvailable',
    request: { capacity: 1, max_weight: 1 },
  });
  assert.equal(vessels.status, 200, JSON.stringify(vessels.body));
  const again = await berth(on.cluster, ['deploy', ...release(), '--timeout', '540'], deployTimeoutMs);
  assert.equal(again.code, 0 /* deployed: the Job ran again */, show(again));
});

test('every container runs as non-root on a read-only root filesystem, as the manifests declare', async () => {
  // The roles Job's container has exited: nothing left to observe (the namespace's Pod Security admission took its pod).
  for (const pod of (await pods()).filter((each) => each.status?.phase === 'Running')) {
    for (const status of pod.status?.containerStatuses ?? []) {
      const where = `${pod.metadata?.name}/${status.name}`;
      const process = containerProcess(on.node, status.containerID!);
      assert.notEqual(process.uid, 0, `${where} runs as uid ${process.uid}`);
      assert.equal(process.rootReadOnly, true, `${where}: its root filesystem is read-only`);
      const declared = pod.spec?.containers.find((container) => container.name === status.name);
      assert.equal(
        process.uid,
        declared?.securityContext?.runAsUser,
        `${where} runs as the declared user (${declared?.securityContext?.runAsUser})`,
      );
      assert.equal(process.capabilities, '0000000000000000', `${where} has no effective capabilities`);
      assert.ok(declared?.readinessProbe, `${where} declares a readiness probe`);
    }
  }
});

/** Every gateway pod's ops address (/_berth/* is served there only), straight on the bridge (this machine reaches pod IPs). */
async function gatewayPods(): Promise<string[]> {
  const all = await client().list<V1Pod>('v1', 'Pod', on.namespace, 'app.kubernetes.io/name=gateway');
  return all.items
    .filter((pod) => pod.status?.podIP && !pod.metadata?.deletionTimestamp)
    .map((pod) => `http://${pod.status!.podIP}:9090`);
}

/** Addresses of `service`'s instances in one gateway's registry cache. */
async function knownTo(gatewayPod: string, service: string): Promise<string[]> {
  const response = await fetch(`${gatewayPod}/_berth/services`);
  const described = (await response.json()) as {
    services: Array<{ name: string; instances: Array<{ address: string }> }>;
  };
  return described.services.find((each) => each.name === service)?.instances.map((i) => i.address) ?? [];
}

let token = '';

/** Reads through the gateway that cross services: vessel directly, consignment → user. */
function steadyLoad() {
  const vessels = startLoad({
    url: `${gateway}/rpc`,
    body: JSON.stringify({
      service: 'vessel',
      method: 'VesselService.FindAvailable',
      request: { capacity: 1, max_weight: 1 },
    }),
    concurrency: 2,
    maxDurationMs: 15 * 60_000,
  });
  const consignments = startLoad({
    url: `${gateway}/rpc`,
    body: JSON.stringify({ service: 'consignment', method: 'ConsignmentService.Get', request: {} }),
    headers: { authorization: `Bearer ${token}` },
    concurrency: 2,
    maxDurationMs: 15 * 60_000,
  });
  return {
    answered: (count: number) => Promise.all([vessels.answered(count), consignments.answered(count)]),
    async stop() {
      await Promise.all([vessels.stop(), consignments.stop()]);
      return {
        outcomes: [...vessels.outcomes, ...consignments.outcomes],
        failures: [...vessels.failures(), ...consignments.failures()],
      };
    },
  };
}

test('a rolling update of vessel and consignment under steady load: not one request fails', async () => {
  const auth = await rpc(gateway, {
    service: 'user',
    method: 'UserService.Auth',
    request: { email: `pods-${on.runId}@shippy.test`, password: 'correct horse battery' },
  });
  token = auth.body.token as string;
  for (const service of ['vessel', 'consignment']) {
    const built = await berth(
      on.cluster,
      ['build', service, ...release(...nextRelease()), '--load'],
      buildTimeoutMs,
    );
    assert.equal(built.code, 0, show(built));
  }
  const load = steadyLoad();
  await load.answered(50);
  const deployed = await berth(
    on.cluster,
    ['deploy', ...release(...nextRelease()), '--timeout', '540'],
    deployTimeoutMs,
  );
  await load.answered(50);
  const { outcomes, failures } = await load.stop();
  assert.equal(deployed.code, 0, show(deployed));
  process.stdout.write(`# rolling update: ${outcomes.length} requests, ${failures.length} failed\n`);
  // Old pods may still be draining (preStop, then berth's graceful stop): only the live ones count.
  const versions = new Set(
    (await pods())
      .filter(
        (pod) =>
          pod.metadata?.labels?.['app.kubernetes.io/name'] === 'vessel' && !pod.metadata.deletionTimestamp,
      )
      .map((pod) => pod.metadata?.labels?.['app.kubernetes.io/version']),
  );
  assert.deepEqual([...versions], [`r2-${on.runId}`]);
  assert.equal(failures.length, 0, describeFailures(failures));
});

test('SIGKILL of a vessel pod under load: every gateway forgets it, and at most a handful of requests fail', async () => {
  // A live, Ready pod of the current release: the rolling update's old pods may still be draining.
  const vessel = (await pods()).find(
    (pod) =>
      pod.metadata?.labels?.['app.kubernetes.io/name'] === 'vessel' &&
      !pod.metadata.deletionTimestamp &&
      pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True'),
  );
  assert.ok(vessel?.status?.podIP, 'a Ready vessel pod');
  const address = `${vessel.status.podIP}:8080`;
  const gateways = await gatewayPods();
  // A pod that just became Ready reaches each gateway's cache through the EndpointSlice watch.
  await Promise.all(
    gateways.map((each) =>
      waitFor(async () => (await knownTo(each, 'vessel')).includes(address), {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: `${each} to know vessel ${address}`,
      }),
    ),
  );
  const load = steadyLoad();
  await load.answered(50);
  const containerId = vessel.status.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, '');
  const killedAt = performance.now();
  // The runtime kills it outright (SIGKILL, no grace): a crash as the node sees one.
  on.node.crictlRun(['stop', '--timeout', '0', containerId]);
  await Promise.all(
    gateways.map((each) =>
      waitFor(async () => !(await knownTo(each, 'vessel')).includes(address), {
        timeoutMs: 60_000,
        intervalMs: 50,
        what: `${each} to forget the killed vessel ${address}`,
      }),
    ),
  );
  const forgottenMs = performance.now() - killedAt;
  await load.answered(50);
  const { outcomes, failures } = await load.stop();
  process.stdout.write(
    `# SIGKILL: every gateway forgot the pod after ${Math.round(forgottenMs)} ms; ${failures.length} of ${outcomes.length} requests failed\n`,
  );
  assert.ok(failures.length <= 5, describeFailures(failures));
});

const vesselConfig = async () =>
  (await client().get<V1ConfigMap>('v1', 'ConfigMap', on.namespace, 'vessel-config'))!;

/**
 * Deploys a broken release of vessel under steady load — its berth.yaml entry
 * changed by `broken.edit`, or its image tag `broken.tag` — and berth must roll
 * it back by itself and exit non-zero with a reason matching `reason`, while the
 * previous release answers every request; vessel's ConfigMap is as before.
 */
async function assertRolledBack(
  broken: { edit?: (vessel: ServiceYaml) => void; tag?: string },
  reason: RegExp,
): Promise<void> {
  const before = (await client().get<V1Deployment>('apps/v1', 'Deployment', on.namespace, 'vessel'))!;
  const configBefore = (await vesselConfig()).data;
  // The staging overlay the copy's `test` comes from sets vessel's replicas: its entry is there.
  let entryBefore: ServiceYaml | undefined;
  on.shippy.edit((system) => {
    entryBefore = structuredClone(system.environments.test!.services!.vessel!);
    broken.edit?.(system.environments.test!.services!.vessel!);
  });
  const tags = broken.tag ? [...nextRelease(), `vessel=${broken.tag}`] : nextRelease();
  const load = steadyLoad();
  await load.answered(20);
  const deployed = await berth(
    on.cluster,
    ['deploy', ...release(...tags), '--timeout', '300', '--progress-deadline', '60'],
    deployTimeoutMs,
  );
  await load.answered(20);
  const { outcomes, failures } = await load.stop();
  on.shippy.edit((system) => {
    system.environments.test!.services!.vessel = entryBefore!;
  });
  assert.notEqual(deployed.code, 0, show(deployed));
  assert.match(deployed.stdout + deployed.stderr, /roll(ed)? back/i, show(deployed));
  assert.match(deployed.stdout + deployed.stderr, reason, show(deployed));
  const after = (await client().get<V1Deployment>('apps/v1', 'Deployment', on.namespace, 'vessel'))!;
  const container = (deployment: V1Deployment) => {
    const { image, resources } = deployment.spec!.template.spec!.containers[0]!;
    return { image, resources };
  };
  assert.deepEqual(container(after), container(before), 'vessel runs the previous release again');
  assert.deepEqual((await vesselConfig()).data, configBefore, "vessel's ConfigMap is the previous release's");
  await waitFor(
    async () => {
      const current = (await client().get<V1Deployment>('apps/v1', 'Deployment', on.namespace, 'vessel'))!;
      return current.status?.readyReplicas === 2 && current.status?.updatedReplicas === 2;
    },
    { timeoutMs: 120_000, intervalMs: 500, what: 'vessel back to 2 ready pods of the previous release' },
  );
  process.stdout.write(`# rollback (${reason}): ${failures.length} of ${outcomes.length} requests failed\n`);
  assert.equal(failures.length, 0, describeFailures(failures));
}

test('a release whose container crashes at start (OOM-killed) rolls back by itself', async () => {
  // 24 MiB cannot hold Node's heap: the kernel kills it at start, again and again.
  await assertRolledBack(
    {
      edit: (vessel) => {
        vessel.resources = { memory: '24Mi', limits: { memory: '24Mi' } };
      },
    },
    /CrashLoopBackOff|OOMKilled|crash/i,
  );
});

test('a release that never becomes ready (no node can take it) rolls back by itself', async () => {
  await assertRolledBack(
    {
      edit: (vessel) => {
        vessel.resources = { memory: '200Gi' };
      },
    },
    /Insufficient memory|Unschedulable|not ready|deadline/i,
  );
});

test('a release whose image was never loaded, with a config change, is rolled back whole, saying how to get the image to the node', async () => {
  await assertRolledBack(
    {
      tag: `never-loaded-${on.runId}`,
      // Rolled out with the image: the ConfigMap must go back too, or vessel's old pods would restart on the new config.
      edit: (vessel) => {
        vessel.env = { ...(vessel.env as Record<string, string> | undefined), RELEASE_NOTE: 'broken' };
      },
    },
    /(ErrImagePull|ImagePullBackOff)[\s\S]*berth build --load/,
  );
});
