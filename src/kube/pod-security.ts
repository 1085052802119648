/**
 * The security context of every pod berth renders: a fixed non-root user, no
 * privilege escalation, no capabilities, a read-only root filesystem and the
 * runtime's default seccomp profile (the Kubernetes "restricted" standard). What
 * a process must write goes to volumes: emptyDirs, or a claim owned by `fsGroup`.
 */
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

export function nonRootSecurity(userId: number): {
  readonly pod: V1PodSecurityContext;
  readonly container: V1SecurityContext;
} {
  return {
    pod: { runAsNonRoot: true, fsGroup: userId },
    container: {
      runAsNonRoot: true,
      runAsUser: userId,
      runAsGroup: userId,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}
