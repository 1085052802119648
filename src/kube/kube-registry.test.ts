import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { infoOfService, instancesOfSlice } from './kube-registry.ts';

const slice = (pods: string[]): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: {
    name: 'vessel-x7k2p',
    namespace: 'shippy',
    labels: { 'kubernetes.io/service-name': 'vessel', 'app.kubernetes.io/part-of': 'shippy' },
  },
  ports: [{ name: 'http2', port: 8080 }],
  endpoints: pods.map((pod, i) => ({
    addresses: [`198.18.0.${10 + i}`],
    conditions: { ready: true },
    targetRef: { kind: 'Pod', name: pod },
    nodeName: 'berth-node',
  })),
});

test('a pod of <service>-canary is on the canary track, every other pod on the stable one', () => {
  const instances = instancesOfSlice(
    slice(['vessel-6d4f9c7b8-abcde', 'vessel-canary-5d884f9857-7vxbq', 'vessel-canaryish-1']),
  );
  assert.deepEqual(
    instances.map((instance) => [instance.metadata.pod, instance.metadata.track]),
    [
      ['vessel-6d4f9c7b8-abcde', 'stable'],
      ['vessel-canary-5d884f9857-7vxbq', 'canary'],
      ['vessel-canaryish-1', 'stable'],
    ],
  );
});

test("the Service's canary weight and proto services are read from its annotations", () => {
  assert.deepEqual(
    infoOfService({
      metadata: {
        name: 'vessel',
        annotations: {
          'berth.dev/proto-services': 'shippy.vessel.v1.VesselService',
          'berth.dev/canary-weight': '30',
        },
      },
    }),
    { protoServices: ['shippy.vessel.v1.VesselService'], canaryWeight: '30' },
  );
  assert.deepEqual(infoOfService({ metadata: { name: 'vessel' } }), { protoServices: [] });
});
