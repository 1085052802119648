/**
 * The Kubernetes cluster the test/kube suites run against, and what they share.
 *
 * Which cluster:
 *  - BERTH_TEST_KUBECONFIG=<file> (optionally with BERTH_KUBE_CONTEXT): that
 *    kubeconfig, e.g. a real cluster's; BERTH_KUBE_CONTEXT alone: that context
 *    of the usual kubeconfig (KUBECONFIG or ~/.kube/config).
 *  - otherwise the local control plane of tools/k8s: `up.sh` starts it (about
 *    20 s, from cached binaries) or reuses the running one (0.2 s); its
 *    BERTH_K8S_STATE picks another run-state dir, as for up.sh. It is left
 *    running for the next file; stopping it is the test run's last step
 *    (`npm run k8s:down`).
 * Every file works in namespaces of its own, named with a random suffix, and
 * deletes them (and any volumes made for them) when it ends.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { before } from 'node:test';
import { promisify } from 'node:util';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import type { SystemFile } from '../../src/config/system-file.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { renderManifests } from '../../src/kube/manifests.ts';
import { imageNames } from '../../src/kube/release.ts';
import { type CliResult, runBerth } from '../cli/run-cli.ts';
import { type Cleanup, fileCleanup } from '../support/cleanup.ts';
import { parseExports } from '../support/exports.ts';
import { repoRoot } from '../support/processes.ts';

export interface TestCluster {
  /** kubeconfig file for children (`KUBECONFIG`); undefined: the user's default. */
  readonly kubeconfig: string | undefined;
  /**
   * What tools/k8s/up.sh exported for a local control plane (its state dir's `env`
   * file: CONTAINERD_ADDRESS, CONTAINERS_STORAGE_CONF, the real node's name…);
   * empty for a cluster given by kubeconfig or context.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly context: string | undefined;
  kubeConfig(): KubeConfig;
  connect(): Promise<KubeClient>;
}

let shared: Promise<TestCluster> | undefined;

/** The cluster, found or started once per test process. */
export function testCluster(): Promise<TestCluster> {
  shared ??= findCluster();
  return shared;
}

async function findCluster(): Promise<TestCluster> {
  const context = process.env.BERTH_KUBE_CONTEXT || undefined;
  const given = process.env.BERTH_TEST_KUBECONFIG || undefined;
  const kubeconfig = given === undefined && context === undefined ? await startLocalControlPlane() : given;
  const kubeConfig = () => {
    const config = new KubeConfig();
    if (kubeconfig) config.loadFromFile(kubeconfig);
    else config.loadFromDefault();
    if (context) config.setCurrentContext(context);
    return config;
  };
  return {
    kubeconfig,
    context,
    env:
      given === undefined && context === undefined && kubeconfig
        ? parseExports(readFileSync(join(dirname(kubeconfig), 'env'), 'utf8'))
        : {},
    kubeConfig,
    connect: () => KubeClient.connect({ kubeConfig: kubeConfig() }),
  };
}

/** `tools/k8s/up.sh`: its last lines name the kubeconfig. */
async function startLocalControlPlane(): Promise<string> {
  const script = join(repoRoot, 'tools/k8s/up.sh');
  try {
    // Warm start ~20 s; a first run without cached binaries builds them (~30 min): CI builds first.
    const { stdout } = await promisify(execFile)('bash', [script], { timeout: 600_000, maxBuffer: 1 << 24 });
    const path = /^kubeconfig: (.+)$/m.exec(stdout)?.[1];
    if (!path) throw new Error(`up.sh printed no "kubeconfig:" line:\n${stdout}`);
    return path;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `could not start the test control plane (${script}): ${(error as Error).message}\n${stderr}`,
    );
  }
}

/** A namespace name for this file: `<prefix>-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/**
 * Deletes, at cleanup, the namespace (everything in it goes with it) and the
 * volumes made for it. Deletion finishes in the background: nothing waits on it.
 */
export function deleteNamespaceAtEnd(client: KubeClient, namespace: string, cleanup: Cleanup): void {
  cleanup(async () => {
    await client.delete('v1', 'Namespace', undefined, namespace);
    const volumes = await client.request<{ items: Array<{ metadata: { name: string } }> }>(
      'GET',
      `/api/v1/persistentvolumes?labelSelector=${encodeURIComponent(`berth.dev/test-namespace=${namespace}`)}`,
    );
    for (const volume of volumes.items) {
      await client.request('DELETE', `/api/v1/persistentvolumes/${volume.metadata.name}`);
    }
    rmSync(join(volumesRoot, namespace), { recursive: true, force: true });
  });
}

/**
 * The StatefulSets' claims (postgres and nats each claim `data`) need volumes.
 * A real cluster provisions them through its default StorageClass; the local
 * control plane has no provisioner, so each claim gets a hostPath
 * PersistentVolume bound to it in advance. On KWOK nothing is ever written
 * there; for the real node (`owners`: claim → uid), the folder is made on this
 * machine, owned by the uid the pod runs as and closed to everyone else, as a
 * provisioner's volume would be.
 */
export async function provideVolumes(
  client: KubeClient,
  namespace: string,
  claims: readonly string[],
  owners: Readonly<Record<string, number>> = {},
): Promise<void> {
  const classes = await client.request<{
    items: Array<{ metadata: { annotations?: Record<string, string> } }>;
  }>('GET', '/apis/storage.k8s.io/v1/storageclasses');
  const hasDefault = classes.items.some(
    (storageClass) =>
      storageClass.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true',
  );
  if (hasDefault) return;
  for (const claim of claims) {
    const path = join(volumesRoot, namespace, claim);
    const owner = owners[claim];
    if (owner !== undefined) {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      chownSync(path, owner, owner);
    }
    await client.request('POST', '/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `${namespace}-${claim}`, labels: { 'berth.dev/test-namespace': namespace } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path },
        claimRef: { namespace, name: claim },
      },
    });
  }
}

const volumesRoot = '/tmp/berth-test-volumes';

/** What shippy's StatefulSets claim: volumeClaimTemplate `data` of postgres-0 and nats-0. */
export const shippyClaims = ['data-postgres-0', 'data-nats-0'];

/** The parts of berth.yaml the tests change; the rest passes through as it is. */
export interface ServiceYaml {
  [key: string]: unknown;
  path?: string;
  dependsOn?: string[];
  resources?: { cpu?: string; memory?: string; limits?: { cpu?: string; memory?: string } };
}

export interface SystemYaml {
  [key: string]: unknown;
  services: Record<string, ServiceYaml | null>;
  environments: Record<string, { [key: string]: unknown; services?: Record<string, ServiceYaml> }>;
}

export interface ShippyCopy {
  /** Folder holding the copy's berth.yaml. */
  readonly dir: string;
  readonly file: string;
  /** Rewrites berth.yaml: `edit` gets the parsed file and changes it in place. */
  edit(edit: (system: SystemYaml) => void): void;
}

/**
 * examples/shippy/berth.yaml copied to a temp folder, with an overlay `test`
 * that is production's (or `from`'s: same replicas and resources) in `namespace`
 * with `registry`. Service folders stay where they are (absolute `path`s), so a
 * copy renders the same images as shippy itself; `proto/` is copied beside it,
 * so its services serve the same proto services.
 */
export function copyShippy(
  options: { namespace: string; registry: string; from?: string },
  cleanup: Cleanup,
): ShippyCopy {
  const shippy = resolve(repoRoot, 'examples/shippy');
  const system: SystemYaml = parse(readFileSync(join(shippy, 'berth.yaml'), 'utf8'));
  for (const [name, service] of Object.entries(system.services)) {
    system.services[name] = { ...service, path: join(shippy, name) };
  }
  const gateway = system.gateway as { static?: string } | undefined;
  if (gateway?.static) gateway.static = join(shippy, gateway.static);
  system.environments.test = {
    ...structuredClone(system.environments[options.from ?? 'production']),
    namespace: options.namespace,
    registry: options.registry,
    // KWOK pods are ready at once and never crash by themselves: a bake only slows the
    // tests (and must stay under their 8 s --progress-deadline). rollout-failures.test.ts bakes.
    rollout: { minReadySeconds: 0 },
  };
  const dir = mkdtempSync(join(tmpdir(), 'berth-kube-test-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.yaml');
  writeFileSync(file, stringify(system));
  cpSync(join(shippy, 'proto'), join(dir, 'proto'), { recursive: true });
  return {
    dir,
    file,
    edit(edit) {
      const current: SystemYaml = parse(readFileSync(file, 'utf8'));
      edit(current);
      writeFileSync(file, stringify(current));
    },
  };
}

/** What a test/kube file sets up in its `before`: see {@link shippyNamespace}. */
export interface ShippyNamespace {
  /** `<prefix>-<random>`: known at once, so tests can be declared with it. */
  readonly namespace: string;
  /** The file's cleanup (fileCleanup): runs after its last test. */
  readonly cleanup: Cleanup;
  readonly cluster: TestCluster;
  /** Connected to the cluster; closed at cleanup. */
  readonly client: KubeClient;
  /** The copy of shippy deploying into `namespace`; only with the option `copy`. */
  readonly shippy: ShippyCopy;
  /** `-f <the copy> --env test`. */
  target(): string[];
  /**
   * `berth deploy` of the copy with a short progress deadline, the same on every
   * deploy (changing it is a change), every image pinned to `r1` but `tags`
   * (`service=tag`): content tags would change whenever anyone edits src/ while
   * a suite runs, and no image is ever pulled (KWOK).
   */
  pinnedDeploy(...tags: string[]): string[];
  /** `berth canary <service> --weight <weight>` with the release pinned to `r1` and the canary on `tag`. */
  pinnedCanary(service: string, weight: number, tag: string): string[];
}

export interface ShippyNamespaceOptions {
  /** Volumes for shippy's claims (provideVolumes): for files that deploy its StatefulSets. */
  readonly volumes?: boolean;
  /** Copy shippy's berth.yaml (copyShippy) with its `test` overlay in the namespace. */
  readonly copy?: { readonly registry: string; readonly from?: string };
  /**
   * The file's own setup, run in the same hook once all this is ready: node:test
   * starts each top-level `before` as it is registered, so a second one would not
   * wait for this one.
   */
  readonly setup?: () => unknown;
}

/**
 * The setup every test/kube file shares: the cluster, a client, a namespace of
 * the file's own that is deleted (with its volumes) when the file ends, and,
 * as asked, volumes and a copy of shippy for it, then the file's `setup`. Call
 * it at module top level: it registers the file's cleanup and a `before` hook
 * that sets `cluster`, `client` and `shippy`.
 */
export function shippyNamespace(prefix: string, options: ShippyNamespaceOptions = {}): ShippyNamespace {
  const namespace = uniqueName(prefix);
  const cleanup = fileCleanup();
  let cluster: TestCluster | undefined;
  let client: KubeClient | undefined;
  let shippy: ShippyCopy | undefined;
  before(async () => {
    cluster = await testCluster();
    const connected = await cluster.connect();
    client = connected;
    cleanup(() => connected.close());
    deleteNamespaceAtEnd(connected, namespace, cleanup);
    if (options.volumes) await provideVolumes(connected, namespace, shippyClaims);
    if (options.copy) shippy = copyShippy({ ...options.copy, namespace }, cleanup);
    await options.setup?.();
  });
  const ready = <T>(value: T | undefined, name: keyof ShippyNamespace): T => {
    if (value !== undefined) return value;
    throw new Error(
      `shippyNamespace(${JSON.stringify(prefix)}).${name} is not set` +
        (name === 'shippy' && cluster
          ? ': pass the option `copy` to have a copy of shippy'
          : ': it is set in its before hook; use it in tests or in the option `setup`, not at module top level or in a `before` of your own (which may run first)'),
    );
  };
  const target = () => ['-f', ready(shippy, 'shippy').dir, '--env', 'test'];
  return {
    namespace,
    cleanup,
    target,
    pinnedDeploy: (...tags) => [
      'deploy',
      ...target(),
      '--progress-deadline',
      '8',
      '--timeout',
      '90',
      '--tag',
      'r1',
      ...tags.flatMap((tag) => ['--tag', tag]),
    ],
    pinnedCanary: (service, weight, tag) => [
      'canary',
      service,
      '--weight',
      String(weight),
      ...target(),
      '--tag',
      'r1',
      '--tag',
      `${service}=${tag}`,
    ],
    get cluster() {
      return ready(cluster, 'cluster');
    },
    get client() {
      return ready(client, 'client');
    },
    get shippy() {
      return ready(shippy, 'shippy');
    },
  };
}

export type { CliResult };

/** `berth <args>` as a child process against the test cluster. */
export async function berth(
  cluster: TestCluster,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...cluster.env, NO_COLOR: '1' };
  delete env.NODE_TEST_CONTEXT;
  if (cluster.kubeconfig) env.KUBECONFIG = cluster.kubeconfig;
  return runBerth([...args, ...(cluster.context ? ['--context', cluster.context] : [])], env, timeoutMs);
}

/** Shows a CLI run in an assertion message. */
export function show(result: CliResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** A kubeconfig with the token of a ServiceAccount (TokenRequest API): what a pod running as it has. */
export async function serviceAccountKubeConfig(
  cluster: TestCluster,
  client: KubeClient,
  namespace: string,
  serviceAccount: string,
): Promise<KubeConfig> {
  const request = await client.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
  );
  const admin = cluster.kubeConfig();
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [admin.getCurrentCluster()!],
    users: [{ name: serviceAccount, token: request.status.token }],
    contexts: [{ name: serviceAccount, cluster: admin.getCurrentCluster()!.name, user: serviceAccount }],
    currentContext: serviceAccount,
  });
  return config;
}

/** What `berth manifests --tag <tag>` renders for `system`: every image at that tag. */
export function renderTagged(system: SystemFile, tag = 'r1'): KubernetesObject[] {
  return renderManifests(system, { tags: Object.fromEntries(imageNames(system).map((name) => [name, tag])) });
}
