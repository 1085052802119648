/** Mistakes in naming what to act on are reported before the cluster is touched. No cluster needed. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { loadSystemFile } from '../../src/config/system-file.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { startCanary } from '../../src/kube/operate.ts';
import { createProgress } from '../../src/kube/progress.ts';
import { createRelease } from '../../src/kube/release.ts';
import { repoRoot } from '../support/processes.ts';

test('a --context the kubeconfig does not have is named, with the ones it has', async () => {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'lab', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'me', token: 'x' }],
    contexts: [{ name: 'lab', cluster: 'lab', user: 'me' }],
    currentContext: 'lab',
  });
  await assert.rejects(
    KubeClient.connect({ kubeConfig, context: 'labb' }),
    /the kubeconfig has no context "labb"; it has: lab/,
  );
});

test('a canary of something that is not a service of the system says what the services are', async () => {
  const release = createRelease(loadSystemFile(join(repoRoot, 'examples/shippy'), { env: 'production' }));
  const untouched = {} as KubeClient; // any request to it would throw a TypeError instead
  const progress = createProgress(process.stdout, false);
  await assert.rejects(
    startCanary(untouched, release, 'gateway', 10, progress, 1000),
    /no service "gateway" in .*berth\.yaml; services: .*vessel/,
  );
});
