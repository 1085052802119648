/**
 * `berth build --load`: images go straight into a Kubernetes node's containerd,
 * so a cluster without a registry runs them (pods ask for the exact tag with
 * imagePullPolicy IfNotPresent). The engine saves each image to an archive and
 * `ctr images import` puts it where the kubelet looks.
 */
import { type Environment, type ProbeResult, probeTool, type ToolCommand } from './tool-process.ts';

export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';

/** The kubelet's CRI plugin keeps its images in this containerd namespace; pods see no other. */
const KUBERNETES_NAMESPACE = 'k8s.io';

/** The socket: `--containerd`, else CONTAINERD_ADDRESS (as ctr itself reads it), else containerd's default. */
export function containerdAddress(option: string | undefined, env: Environment): string {
  return option ?? env.CONTAINERD_ADDRESS ?? DEFAULT_CONTAINERD_ADDRESS;
}

/**
 * Whether ctr is installed and containerd answers on `address`; the problem, with
 * what to do, otherwise. A short connect timeout: ctr would wait 10 s for a socket
 * nobody listens on.
 */
export function checkContainerd(address: string, env: Environment): string | undefined {
  const probe: ProbeResult = probeTool(
    { program: 'ctr', args: ['--address', address, '--connect-timeout', '5s', 'version'] },
    env,
  );
  if (probe.ok) return undefined;
  return probe.notInstalled
    ? `${probe.problem}; --load needs containerd's ctr (Debian/Ubuntu: apt-get install containerd)`
    : `${probe.problem}; is containerd running there? Give its socket with --containerd or CONTAINERD_ADDRESS`;
}

export function importCommand(address: string, archive: string): ToolCommand {
  return {
    program: 'ctr',
    args: ['--address', address, '-n', KUBERNETES_NAMESPACE, 'images', 'import', archive],
  };
}
