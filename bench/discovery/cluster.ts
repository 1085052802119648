/**
 * The Kubernetes side of the benchmark: a control plane of its own (tools/k8s,
 * KWOK fake nodes, in a state dir that is not the default one, so a control
 * plane someone else runs is never touched), a namespace of its own, and in it
 * what `berth manifests` renders for one service `vessel` as far as discovery
 * reads it: the Service (labels the registry selects, the `http2` port, the
 * proto-services annotation), its ServiceAccount and a Deployment to scale.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { protoServicesAnnotation } from '../../src/kube/object-meta.ts';
import { repoRoot } from './child.ts';
import { protoService, serviceName, systemName } from './protocol.ts';

const run = promisify(execFile);
/** Pods one KWOK node allows (tools/k8s/up.sh). */
export const podsPerNode = 110;

export interface ControlPlane {
  readonly kubeconfig: string;
  readonly stateDir: string;
}

/** The state dir tools/k8s uses when none is given: never the benchmark's. */
function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const cacheRoot = env.BERTH_K8S_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'berth-k8s');
  return resolve(cacheRoot, 'run');
}

/** `tools/k8s/up.sh` in `stateDir`, KWOK nodes only; reuses a healthy one already running there. */
export async function startControlPlane(stateDir: string, nodes: number): Promise<ControlPlane> {
  if (resolve(stateDir) === defaultStateDir(process.env)) {
    throw new Error(
      `refusing to use the default control plane state dir ${stateDir}: give the bench its own`,
    );
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BERTH_K8S_STATE: stateDir,
    BERTH_K8S_NODES: String(nodes),
  };
  // KWOK-only: a real node would taint the fake ones and take every pod.
  delete env.BERTH_K8S_REAL_NODE;
  try {
    const { stdout } = await run('bash', [join(repoRoot, 'tools/k8s/up.sh')], {
      env,
      timeout: 15 * 60_000,
      maxBuffer: 1 << 24,
    });
    const kubeconfig = /^kubeconfig: (.+)$/m.exec(stdout)?.[1];
    if (!kubeconfig) throw new Error(`up.sh printed no "kubeconfig:" line:\n${stdout}`);
    return { kubeconfig, stateDir };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`tools/k8s/up.sh failed: ${(error as Error).message}\n${stderr.slice(-4000)}`);
  }
}

/** `tools/k8s/down.sh` for that state dir only. */
export async function stopControlPlane(stateDir: string): Promise<void> {
  await run('bash', [join(repoRoot, 'tools/k8s/down.sh')], {
    env: { ...process.env, BERTH_K8S_STATE: stateDir },
    timeout: 120_000,
  });
}

const labels = {
  'app.kubernetes.io/name': serviceName,
  'app.kubernetes.io/part-of': systemName,
  'app.kubernetes.io/component': 'service',
  'app.kubernetes.io/managed-by': 'berth',
};
const selector = { 'app.kubernetes.io/name': serviceName, 'app.kubernetes.io/part-of': systemName };

/** The objects manifests.ts renders for the service, as far as discovery and KWOK read them. */
function vesselObjects(namespace: string): KubernetesObject[] {
  const tag = 'bench1';
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceName, namespace, labels } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: serviceName,
        namespace,
        labels,
        annotations: { [protoServicesAnnotation]: protoService },
      },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [
          {
            name: 'http2',
            port: 8080,
            targetPort: 'http2',
            protocol: 'TCP',
            appProtocol: 'kubernetes.io/h2c',
          },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: serviceName, namespace, labels: { ...labels, 'app.kubernetes.io/version': tag } },
      spec: {
        replicas: 0,
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: { ...selector, 'app.kubernetes.io/version': tag } },
          spec: {
            serviceAccountName: serviceName,
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: serviceName,
                image: `${systemName}-${serviceName}:${tag}`,
                ports: [{ name: 'http2', containerPort: 8080, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/readyz', port: 'http2' }, periodSeconds: 5 },
              },
            ],
          },
        },
      },
    } as KubernetesObject,
  ];
}

export class BenchNamespace {
  readonly name: string;
  readonly #client: KubeClient;

  private constructor(name: string, client: KubeClient) {
    this.name = name;
    this.#client = client;
  }

  /** A fresh namespace holding the vessel Service and a Deployment at 0 replicas. */
  static async create(kubeconfig: string): Promise<BenchNamespace> {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfig);
    const client = await KubeClient.connect({ kubeConfig });
    const bench = new BenchNamespace(`bench-discovery-${randomBytes(3).toString('hex')}`, client);
    for (const object of vesselObjects(bench.name)) await client.apply(object);
    return bench;
  }

  /** Pods the Ready nodes allow, from their allocatable counts. */
  async podCapacity(): Promise<number> {
    const nodes = await this.#client.list<{
      status?: { allocatable?: Record<string, string>; conditions?: Array<{ type: string; status: string }> };
    }>('v1', 'Node', undefined);
    return nodes.items
      .filter((node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      .reduce((sum, node) => sum + Number(node.status?.allocatable?.pods ?? 0), 0);
  }

  async scale(replicas: number): Promise<void> {
    await this.#client.mergePatch('apps/v1', 'Deployment', this.name, serviceName, { spec: { replicas } });
  }

  /** Waits (bounded, polling) until no pod of the service is left, so steps do not overlap. */
  async waitForNoPods(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const query = Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    for (;;) {
      const pods = await this.#client.list('v1', 'Pod', this.name, query);
      if (pods.items.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(`${pods.items.length} pods still in ${this.name} after ${timeoutMs} ms`);
      await new Promise((done) => setTimeout(done, 500));
    }
  }

  /** Deletes the namespace (everything in it goes with it); finishes in the background. */
  async delete(): Promise<void> {
    try {
      await this.#client.delete('v1', 'Namespace', undefined, this.name);
    } finally {
      await this.#client.close();
    }
  }
}
