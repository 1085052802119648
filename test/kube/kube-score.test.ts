/**
 * kube-score over what `berth manifests` renders for shippy's production and
 * staging overlays: every finding is either fixed or accepted, with its reason,
 * in docs/kubernetes.md ("kube-score"), the one list there is. An accepted
 * finding that no longer occurs fails too, so the list never outlives its cause.
 * Static: no cluster. The binary comes from tools/kube-score/build.sh (.ci/run builds it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSystemFile } from '../../src/config/system-file.ts';
import { renderManifests, toYaml } from '../../src/kube/manifests.ts';
import { createRelease } from '../../src/kube/release.ts';
import { repoRoot } from '../support/processes.ts';

/** The test control plane's minor version (kube-score takes `vN.NN`): it judges API versions by it. */
const kubernetesVersion = /^K8S_VERSION=(v\d+\.\d+)\.\d+$/m.exec(
  readFileSync(join(repoRoot, 'tools/k8s/versions.env'), 'utf8'),
)![1]!;

interface Finding {
  readonly check: string;
  readonly summary: string;
  readonly object: string;
}

/** kube-score's `-o json` (v2): per object, each check with a grade (10 = fine) and comments. */
interface ScoredObject {
  readonly object_name: string;
  readonly checks: ReadonlyArray<{
    readonly check: { readonly id: string };
    readonly grade: number;
    readonly skipped: boolean;
    readonly comments: ReadonlyArray<{ readonly path: string; readonly summary: string }> | null;
  }>;
}

function kubeScoreBinary(): string {
  const located = spawnSync('bash', [join(repoRoot, 'tools/kube-score/build.sh'), '--path'], {
    encoding: 'utf8',
  });
  assert.equal(located.status, 0, located.stderr);
  const binary = located.stdout.trim();
  assert.ok(existsSync(binary), `kube-score is not built (no ${binary}): run tools/kube-score/build.sh`);
  return binary;
}

function findings(binary: string, env: string): Finding[] {
  const shippy = loadSystemFile(join(repoRoot, 'examples/shippy'), { env });
  const release = createRelease(shippy);
  const yaml = toYaml(renderManifests(release.system, { tags: release.tags }));
  const scored = spawnSync(
    binary,
    ['score', '--output-format', 'json', '--kubernetes-version', kubernetesVersion, '-'],
    { input: yaml, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  // Exit 1 also means a critical finding: then the findings are on stdout, else the error is on stderr.
  assert.ok(scored.stdout.startsWith('['), `kube-score failed (exit ${scored.status}): ${scored.stderr}`);
  return (JSON.parse(scored.stdout) as ScoredObject[]).flatMap((object) =>
    object.checks
      .filter((check) => !check.skipped && check.grade < 10)
      .flatMap((check) =>
        (check.comments ?? [{ path: '', summary: '' }]).map((comment) => ({
          check: check.check.id,
          summary: comment.summary,
          object: `${env}: ${object.object_name}${comment.path ? ` (${comment.path})` : ''}`,
        })),
      ),
  );
}

/** The rows of the accepted-findings table in docs/kubernetes.md: | `check` | summary | reason |. */
function acceptedFindings(): Array<{ check: string; summary: string; reason: string }> {
  const doc = readFileSync(join(repoRoot, 'docs/kubernetes.md'), 'utf8');
  const section = doc.split(/^## /m).find((part) => part.startsWith('kube-score'));
  assert.ok(section, 'docs/kubernetes.md has a "## kube-score" section');
  const rows = [...section.matchAll(/^\| `([a-z0-9-]+)` \| ([^|]+?) \| (.*) \|$/gm)].map(
    ([, check, summary, reason]) => ({ check: check!, summary: summary!, reason: reason!.trim() }),
  );
  assert.ok(rows.length > 0, 'the kube-score section lists its accepted findings in a table');
  for (const row of rows) assert.ok(row.reason.length > 0, `${row.check} "${row.summary}" gives a reason`);
  return rows;
}

test("kube-score finds nothing in shippy's production and staging renders that docs/kubernetes.md does not accept", () => {
  const binary = kubeScoreBinary();
  const found = ['production', 'staging'].flatMap((env) => findings(binary, env));
  const accepted = acceptedFindings();
  const isAccepted = (finding: Finding) =>
    accepted.some((row) => row.check === finding.check && row.summary === finding.summary);

  const unaccepted = found
    .filter((finding) => !isAccepted(finding))
    .map((finding) => `${finding.object}: ${finding.check}: ${finding.summary}`);
  assert.deepEqual(unaccepted, [], 'fix these, or accept them with a reason in docs/kubernetes.md');

  const stale = accepted
    .filter((row) => !found.some((finding) => finding.check === row.check && finding.summary === row.summary))
    .map((row) => `${row.check}: ${row.summary}`);
  assert.deepEqual(stale, [], 'accepted in docs/kubernetes.md but no longer found: remove them there');
});
