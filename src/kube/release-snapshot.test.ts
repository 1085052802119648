import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { restorable } from './release-snapshot.ts';

/** A Deployment as the API server returns it: berth's fields, a `berth scale`, defaults, the controller's. */
const deployment: V1Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'vessel',
    namespace: 'shippy',
    uid: 'u-1',
    resourceVersion: '812',
    generation: 4,
    creationTimestamp: new Date('2026-01-01T00:00:00Z'),
    labels: { 'app.kubernetes.io/name': 'vessel', 'added-by-hand': 'yes' },
    annotations: { 'deployment.kubernetes.io/revision': '3' },
    managedFields: [
      {
        manager: 'berth',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app.kubernetes.io/name': {} } },
          'f:spec': {
            'f:selector': {},
            'f:template': {
              'f:spec': {
                'f:containers': {
                  'k:{"name":"vessel"}': {
                    '.': {},
                    'f:image': {},
                    'f:name': {},
                    'f:args': {},
                    // Applied empty (`command: []`): the API server leaves it out.
                    'f:command': {},
                    'f:env': { 'k:{"name":"PORT"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
                  },
                },
              },
            },
          },
        },
      },
      // `berth scale` patches replicas: a field of berth's too.
      {
        manager: 'berth',
        operation: 'Update',
        apiVersion: 'apps/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      },
      {
        manager: 'kube-controller-manager',
        operation: 'Update',
        apiVersion: 'apps/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } } },
      },
    ],
  },
  spec: {
    replicas: 5,
    selector: { matchLabels: { 'app.kubernetes.io/name': 'vessel' } },
    revisionHistoryLimit: 10,
    template: {
      spec: {
        containers: [
          {
            name: 'vessel',
            image: 'registry.test/vessel:r1',
            args: ['--serve'],
            imagePullPolicy: 'IfNotPresent',
            terminationMessagePath: '/dev/termination-log',
            env: [
              { name: 'PORT', value: '8080' },
              { name: 'INJECTED', value: 'by a webhook' },
            ],
          },
          { name: 'sidecar', image: 'registry.test/mesh:1' },
        ],
      },
    },
  },
  status: { replicas: 5, readyReplicas: 5 },
};

test('restoring gives back exactly the fields berth owned: its Apply and its patches, nothing server-set or foreign', () => {
  assert.deepEqual(restorable(deployment), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'vessel', namespace: 'shippy', labels: { 'app.kubernetes.io/name': 'vessel' } },
    spec: {
      replicas: 5,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'vessel' } },
      template: {
        spec: {
          containers: [
            {
              name: 'vessel',
              image: 'registry.test/vessel:r1',
              args: ['--serve'],
              command: null,
              env: [{ name: 'PORT', value: '8080' }],
            },
          ],
        },
      },
    },
  });
});

test('a Service keeps what the API server allocated: its clusterIP and nodePort are not berth’s to set', () => {
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'gateway',
      namespace: 'shippy',
      managedFields: [
        {
          manager: 'berth',
          operation: 'Apply',
          fieldsV1: {
            'f:spec': {
              'f:type': {},
              'f:ports': { 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {} } },
            },
          },
        },
      ],
    },
    spec: {
      type: 'LoadBalancer',
      clusterIP: '10.0.0.7',
      clusterIPs: ['10.0.0.7'],
      ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 31000 }],
    },
  };
  assert.deepEqual((restorable(service) as V1Service).spec, {
    type: 'LoadBalancer',
    // The list item keeps its keys (protocol too), so the API server knows which one it is.
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
  });
});

test('an object berth never managed gets its whole previous version back, without what the server sets', () => {
  const handMade = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'vessel-config',
      namespace: 'shippy',
      uid: 'u-2',
      resourceVersion: '9',
      creationTimestamp: new Date(),
      managedFields: [{ manager: 'kubectl-create', operation: 'Update', fieldsV1: { 'f:data': {} } }],
      labels: { team: 'freight' },
    },
    data: { LOG_LEVEL: 'debug' },
  };
  assert.deepEqual(restorable(handMade), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'vessel-config', namespace: 'shippy', labels: { team: 'freight' } },
    data: { LOG_LEVEL: 'debug' },
  });
});
