import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { infoOfService, instancesOfSlice, withServiceInfo } from './kube-registry.ts';

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

test("the pods' ops port comes from the Service's berth.dev/ops-port, or from a slice port named ops", () => {
  const info = infoOfService({
    metadata: {
      name: 'vessel',
      annotations: {
        'berth.dev/proto-services': 'shippy.vessel.v1.VesselService',
        'berth.dev/ops-port': '9090',
      },
    },
  });
  assert.equal(info.opsPort, '9090');
  const [fromAnnotation] = instancesOfSlice(slice(['vessel-6d4f9c7b8-abcde'])).map((instance) =>
    withServiceInfo(instance, info),
  );
  assert.equal(fromAnnotation?.address, '198.18.0.10:8080');
  assert.equal(fromAnnotation?.metadata.opsPort, '9090');
  assert.deepEqual(fromAnnotation?.protoServices, ['shippy.vessel.v1.VesselService']);

  const exposed = {
    ...slice(['vessel-6d4f9c7b8-abcde']),
    ports: [
      { name: 'http2', port: 8080 },
      { name: 'ops', port: 9191 },
    ],
  };
  const [fromSlice] = instancesOfSlice(exposed).map((instance) => withServiceInfo(instance, info));
  assert.equal(fromSlice?.address, '198.18.0.10:8080');
  assert.equal(fromSlice?.metadata.opsPort, '9191');

  const [without] = instancesOfSlice(slice(['vessel-6d4f9c7b8-abcde'])).map((instance) =>
    withServiceInfo(
      instance,
      infoOfService({ metadata: { name: 'vessel', annotations: { 'berth.dev/ops-port': 'ops' } } }),
    ),
  );
  assert.equal(without?.metadata.opsPort, undefined, 'an annotation that is no port number is ignored');
});
