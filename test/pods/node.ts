/**
 * The test cluster's real node (tools/k8s/real-node.sh) seen from this machine:
 * its containerd, and the processes its containers really are. What a test
 * asserts here is observed on the node, not read back from the pod spec.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestCluster } from '../kube/cluster.ts';

export interface RealNode {
  readonly name: string;
  readonly ip: string;
  /** containerd's socket (CONTAINERD_ADDRESS). */
  readonly containerd: string;
  readonly crictl: string;
  /** References of every image in containerd's Kubernetes namespace. */
  images(): string[];
  /** `crictl <args>` against the node's runtime; its stdout. */
  crictlRun(args: readonly string[]): string;
}

/** The real node of a local control plane started with BERTH_K8S_REAL_NODE=1, else undefined. */
export function realNode(cluster: TestCluster): RealNode | undefined {
  const {
    BERTH_K8S_REAL_NODE_NAME: name,
    BERTH_K8S_REAL_NODE_IP: ip,
    CONTAINERD_ADDRESS: containerd,
  } = cluster.env;
  if (!name || !ip || !containerd) return undefined;
  const crictl = join(cluster.env.BERTH_K8S_BIN ?? '', 'crictl');
  const crictlRun = (args: readonly string[]) =>
    execFileSync(crictl, ['--runtime-endpoint', `unix://${containerd}`, '--timeout', '30s', ...args], {
      encoding: 'utf8',
    });
  return {
    name,
    ip,
    containerd,
    crictl,
    images: () =>
      execFileSync('ctr', ['--address', containerd, '-n', 'k8s.io', 'images', 'ls', '-q'], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean),
    crictlRun,
  };
}

export interface ContainerProcess {
  readonly pid: number;
  /** Effective uid of the container's first process. */
  readonly uid: number;
  /** CapEff of /proc/<pid>/status, 16 hex digits. */
  readonly capabilities: string;
  /** Whether `/` is mounted read-only in the container's mount namespace. */
  readonly rootReadOnly: boolean;
}

/** The first process of a container (`containerd://<id>` from a pod's status), read from /proc. */
export function containerProcess(node: RealNode, containerId: string): ContainerProcess {
  const id = containerId.replace(/^containerd:\/\//, '');
  const inspected = JSON.parse(node.crictlRun(['inspect', id])) as { info?: { pid?: number } };
  const pid = inspected.info?.pid;
  if (!pid) throw new Error(`crictl inspect ${id} names no pid`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1]);
  const capabilities = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? '';
  // mountinfo: id parent major:minor root mount-point options …; the last `/` is the one in effect.
  const roots = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[4] === '/');
  const rootOptions = roots.at(-1)?.[5]?.split(',') ?? [];
  return { pid, uid, capabilities, rootReadOnly: rootOptions.includes('ro') };
}
