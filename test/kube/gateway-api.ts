/**
 * The Gateway API's HTTPRoute CRD on the test cluster, for the strict dry run of
 * an HTTPRoute: from the Go module proxy (sigs.k8s.io/gateway-api, standard
 * channel), applied idempotently and never deleted, since other test files and
 * runs share the cluster and an installed CRD changes nothing for them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { KubeClient } from '../../src/kube/kube-client.ts';
import { waitFor } from '../support/wait.ts';

const gatewayApi = 'sigs.k8s.io/gateway-api@v1.2.1';
const crdName = 'httproutes.gateway.networking.k8s.io';

/** The module's folder in the Go module cache, downloaded once. */
async function moduleDir(): Promise<string> {
  const scratch = mkdtempSync(join(tmpdir(), 'berth-gateway-api-'));
  try {
    const go = process.env.GO ?? '/usr/local/go/bin/go';
    const { stdout } = await promisify(execFile)(go, ['mod', 'download', '-json', gatewayApi], {
      cwd: scratch,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    });
    return (JSON.parse(stdout) as { Dir: string }).Dir;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Applies the HTTPRoute CRD (server-side, so a second run changes nothing) and waits until it is served. */
export async function installHttpRouteCrd(client: KubeClient, namespace: string): Promise<void> {
  const file = join(await moduleDir(), 'config/crd/standard/gateway.networking.k8s.io_httproutes.yaml');
  const crd = parse(readFileSync(file, 'utf8')) as object;
  await client.request(
    'PATCH',
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}?fieldManager=berth-tests&force=true`,
    crd,
    'application/apply-patch+yaml',
  );
  await waitFor(
    async () => {
      const current = await client.request<{
        status?: { conditions?: Array<{ type: string; status: string }> };
      }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`);
      return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    },
    { what: `${crdName} Established` },
  );
  // Established, then served: listing answers instead of 404.
  await waitFor(() => client.list('gateway.networking.k8s.io/v1', 'HTTPRoute', namespace).then(() => true), {
    what: 'HTTPRoutes served',
  });
}
