/**
 * berth.yaml `gateway.ingress`: resolved per environment (an overlay's replaces
 * the base's whole), TLS from a named Secret or a cert-manager ClusterIssuer, and
 * each mistake reported at its key with what to write instead.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSystemFile } from '../../src/config/system-file.ts';
import { configErrorMessage } from '../support/config-error.ts';

const parse = (text: string, env?: string) =>
  parseSystemFile(text, { file: '/srv/tiny/berth.yaml', label: 'berth.yaml', env });

/** A one-service system whose gateway section is `gateway` (YAML flow mapping). */
const withGateway = (gateway: string, environments = '') =>
  `system: tiny\ngateway: ${gateway}\nservices:\n  api: {}\n${environments}`;

describe('gateway.ingress: resolved', () => {
  test('no ingress: the gateway spec has no ingress key at all', () => {
    assert.equal('ingress' in parse(withGateway('{ replicas: 2 }')).gateway, false);
  });

  test('a named Secret, or a ClusterIssuer with the Secret berth names; annotations as strings', () => {
    const named = parse(
      withGateway(
        '{ ingress: { host: api.example.com, className: nginx, tls: { secretName: api-tls }, annotations: { nginx.ingress.kubernetes.io/ssl-redirect: true, example.com/limit: 5 } } }',
      ),
    );
    assert.deepEqual(named.gateway.ingress, {
      host: 'api.example.com',
      className: 'nginx',
      tls: { secretName: 'api-tls' },
      annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'true', 'example.com/limit': '5' },
    });
    const issued = parse(
      withGateway('{ ingress: { host: "*.example.com", tls: { clusterIssuer: letsencrypt } } }'),
    );
    assert.deepEqual(issued.gateway.ingress, {
      host: '*.example.com',
      tls: { secretName: 'gateway-tls', clusterIssuer: 'letsencrypt' },
      annotations: {},
    });
  });

  test("an overlay's ingress replaces the base's whole: no TLS of one with the host of another", () => {
    const text = withGateway(
      '{ ingress: { host: staging.example.com, tls: { secretName: staging-tls } } }',
      'environments:\n  production:\n    gateway: { ingress: { host: api.example.com, tls: { clusterIssuer: letsencrypt } } }\n',
    );
    assert.deepEqual(parse(text).gateway.ingress?.tls, { secretName: 'staging-tls' });
    assert.deepEqual(parse(text, 'production').gateway.ingress, {
      host: 'api.example.com',
      tls: { secretName: 'gateway-tls', clusterIssuer: 'letsencrypt' },
      annotations: {},
    });
  });
});

describe('gateway.ingress: mistakes name the key and what to write', () => {
  const mistake = (gateway: string) => configErrorMessage(() => parse(withGateway(gateway)));

  test('a host that is no DNS name, or an IP address', () => {
    assert.equal(
      mistake('{ ingress: { host: "https://api.example.com" } }'),
      'berth.yaml: gateway.ingress.host: expected a lowercase DNS name such as api.example.com (`*.example.com` for every subdomain), got string "https://api.example.com" (line 2)',
    );
    assert.match(
      mistake('{ ingress: { host: API.example.com } }'),
      /gateway\.ingress\.host: expected a lowercase DNS name/,
    );
    assert.equal(
      mistake('{ ingress: { host: 203.0.113.7 } }'),
      'berth.yaml: gateway.ingress.host: "203.0.113.7" is an IP address: Ingress and HTTPRoute route by host name, so give the DNS name clients use (line 2)',
    );
    assert.match(
      mistake('{ ingress: { className: nginx } }'),
      /gateway\.ingress\.host: missing required key/,
    );
  });

  test('TLS from both a Secret and a ClusterIssuer, or from neither', () => {
    assert.equal(
      mistake('{ ingress: { host: api.example.com, tls: { secretName: a, clusterIssuer: b } } }'),
      'berth.yaml: gateway.ingress.tls: either secretName (a TLS Secret you provide) or clusterIssuer (cert-manager issues one), not both (line 2)',
    );
    assert.equal(
      mistake('{ ingress: { host: api.example.com, tls: {} } }'),
      'berth.yaml: gateway.ingress.tls: tls needs secretName (a TLS Secret you provide) or clusterIssuer (cert-manager issues one) (line 2)',
    );
    assert.match(
      mistake('{ ingress: { host: api.example.com, tls: { secretName: My_Secret } } }'),
      /gateway\.ingress\.tls\.secretName: expected a Kubernetes object name: lowercase a-z, 0-9, "-" and ".", such as my-tls, got string "My_Secret"/,
    );
  });

  test('the issuer both in tls and in annotations; an unknown key; a malformed annotation key', () => {
    assert.equal(
      mistake(
        '{ ingress: { host: api.example.com, tls: { clusterIssuer: a }, annotations: { cert-manager.io/cluster-issuer: b } } }',
      ),
      'berth.yaml: gateway.ingress: tls.clusterIssuer sets the cert-manager.io/cluster-issuer annotation: leave it out of annotations (line 2)',
    );
    assert.match(
      mistake('{ ingress: { host: api.example.com, ingressClassName: nginx } }'),
      /gateway\.ingress\.ingressClassName: unknown key.*allowed here: host, className, tls, annotations/,
    );
    assert.match(
      mistake('{ ingress: { host: api.example.com, annotations: { "bad key": x } } }'),
      /gateway\.ingress\.annotations\["bad key"\]: invalid key: expected an annotation key such as nginx\.ingress\.kubernetes\.io\/proxy-body-size, got string "bad key"/,
    );
  });

  test('an overlay is checked too, whichever environment is chosen', () => {
    const text = withGateway(
      '{}',
      'environments:\n  production:\n    gateway: { ingress: { host: api.example.com, tls: { secretName: a, clusterIssuer: b } } }\n',
    );
    assert.match(
      configErrorMessage(() => parse(text, 'dev')),
      /environments\.production\.gateway\.ingress\.tls: either secretName .* not both/,
    );
  });
});

describe('gateway.httpRoute', () => {
  test('resolved as written; an overlay replaces it whole', () => {
    const text = withGateway(
      '{ httpRoute: { parentRefs: [{ name: public, namespace: infra, sectionName: https }], hostnames: [api.example.com] } }',
      'environments:\n  staging:\n    gateway: { httpRoute: { parentRefs: [{ name: staging }], hostnames: [staging.example.com] } }\n',
    );
    assert.deepEqual(parse(text).gateway.httpRoute, {
      parentRefs: [{ name: 'public', namespace: 'infra', sectionName: 'https' }],
      hostnames: ['api.example.com'],
    });
    assert.deepEqual(parse(text, 'staging').gateway.httpRoute, {
      parentRefs: [{ name: 'staging' }],
      hostnames: ['staging.example.com'],
    });
  });

  test('no parent, no hostname, an IP as hostname, a misspelt key', () => {
    const mistake = (route: string) =>
      configErrorMessage(() => parse(withGateway(`{ httpRoute: ${route} }`)));
    assert.match(
      mistake('{ parentRefs: [], hostnames: [a.example.com] }'),
      /gateway\.httpRoute\.parentRefs: expected at least one parentRef \(the Gateway to attach to\)/,
    );
    assert.match(
      mistake('{ parentRefs: [{ name: g }], hostnames: [] }'),
      /gateway\.httpRoute\.hostnames: expected at least one host name/,
    );
    assert.match(
      mistake('{ parentRefs: [{ name: g }], hostnames: [10.0.0.1] }'),
      /gateway\.httpRoute\.hostnames\[0\]: "10\.0\.0\.1" is an IP address/,
    );
    assert.match(
      mistake('{ parentRefs: [{ name: g, section: https }], hostnames: [a.example.com] }'),
      /gateway\.httpRoute\.parentRefs\[0\]\.section: unknown key; allowed here: name, namespace, sectionName/,
    );
  });
});
