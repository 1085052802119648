/**
 * Fake docker, podman, buildah, runc and ctr for `berth build`'s tests: small
 * shell scripts in a folder that becomes the whole PATH, each recording its
 * argv (tab-separated, one line per call) before doing what the test told it.
 * They show which engine berth picks and the exact commands it runs, without a
 * container engine; whether those commands work is for test/kube/image-build.test.ts.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** Behaviours a fake can have; a tool left out is not installed. */
export const FAKE = {
  /** A docker client whose daemon is not running, as docker says it. */
  dockerWithoutDaemon: `[ "$1" = version ] && { echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1; }
exit 0`,
  dockerWithDaemon: `[ "$1" = version ] && { echo 28.2.2; exit 0; }
[ "$1" = build ] && echo "DOCKER_BUILDKIT=$DOCKER_BUILDKIT" >> "$FAKE_TOOLS_LOG"
[ "$1" = save ] && echo archive > "$3"
exit 0`,
  /** podman 4.3 exits 125 on docker's `info --format {{.ServerVersion}}`: only its own field works. */
  podman: `[ "$1" = info ] && { echo 'Error: template: info:1:2: executing "info" at <.ServerVersion>: can'"'"'t evaluate field ServerVersion' >&2; exit 125; }
[ "$1" = version ] && [ "$3" = '{{.Client.Version}}' ] && { echo 4.3.1; exit 0; }
[ "$1" = save ] && echo archive > "$5"
exit 0`,
  /**
   * A working buildah. `bud` fails (exit 3) for the image named in FAKE_FAIL_IMAGE;
   * `push … oci-archive:FILE:NAME` writes FILE and records its folder's mode.
   */
  buildah: `case "$1" in
  info) echo 'overlay storage at /fake/graph' ;;
  bud) case "$*" in *"$FAKE_FAIL_IMAGE"*) [ -n "$FAKE_FAIL_IMAGE" ] && { echo "Error: building at STEP 4: exit status 1" >&2; exit 3; } ;; esac
       echo "Successfully tagged" ;;
  push) case "$3" in oci-archive:*)
          file="\${3#oci-archive:}"; file="\${file%%:*}"
          echo archive > "$file"
          echo "folder-mode $(stat -c %a "$(dirname "$file")")" >> "$FAKE_TOOLS_LOG" ;;
        esac ;;
esac
exit 0`,
  runc: 'exit 0',
  ctr: `for arg in "$@"; do [ "$arg" = version ] && exit 0; done
for arg in "$@"; do [ "$arg" = import ] && exit 0; done
exit 1`,
  ctrWithoutContainerd: `echo 'ctr: failed to dial "/run/containerd/containerd.sock": context deadline exceeded' >&2
exit 1`,
} as const;

export type ToolName = 'docker' | 'podman' | 'buildah' | 'runc' | 'ctr';

export interface FakeTools {
  /** Put this, and nothing else, on PATH. */
  readonly dir: string;
  /** Every call so far: the program, then its arguments. */
  calls(): string[][];
}

/** The fakes in `tools`, removed when test `t` ends. */
export function fakeTools(
  t: Pick<TestContext, 'after'>,
  tools: Partial<Record<ToolName, string>>,
): FakeTools {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fake-tools-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  for (const [name, body] of Object.entries(tools)) {
    const script = join(dir, name);
    writeFileSync(
      script,
      `#!/bin/sh
export PATH=/usr/bin:/bin FAKE_TOOLS_LOG='${log}'
{ printf '%s' '${name}'; for arg in "$@"; do printf '\\t%s' "$arg"; done; printf '\\n'; } >> "$FAKE_TOOLS_LOG"
${body}
`,
    );
    chmodSync(script, 0o755);
  }
  return {
    dir,
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\t')),
  };
}
