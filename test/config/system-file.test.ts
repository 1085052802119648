import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadSystemFile, parseSystemFile, startOrder } from '../../src/config/system-file.ts';
import { configErrorMessage } from '../support/config-error.ts';

const shippy = `
system: shippy
gateway: { port: 8080, cors: { origins: ['*'] }, bodyLimit: 1mb, timeoutMs: 10000, static: ui/dist }
resources:
  postgres: { embedded: true }
  nats: { }
services:
  consignment:
    uses: [postgres]
    dependsOn: [vessel, user]
  vessel:
    path: vessel
    port: 0
    replicas: 1
    uses: [postgres]
    dependsOn: [user]
    env: { KEY: value, RETRIES: 3 }
  user:
    uses: [postgres, nats]
  email:
    uses: [nats]
environments:
  production:
    namespace: shippy-prod
    registry: registry.example.com/shippy
    resources:
      postgres: { url: postgres://db.internal/shippy }
    services:
      vessel:
        replicas: 3
        resources: { cpu: 250m, memory: 256Mi, limits: { cpu: '1', memory: 512Mi } }
`;

const parse = (text: string, env?: string) =>
  parseSystemFile(text, { file: '/srv/shippy/berth.yaml', label: 'berth.yaml', env });

/** The shippy file with `replace` applied, for one mistake at a time. */
const shippyWith = (from: string, to: string) => {
  assert.ok(shippy.includes(from), `fixture lacks ${from}`);
  return shippy.replace(from, to);
};

describe('system file: happy paths', () => {
  test('dev: defaults filled in, paths resolved against the file', () => {
    const system = parse(shippy);
    assert.equal(system.environment, 'dev');
    assert.equal(system.system, 'shippy');
    assert.equal(system.namespace, 'shippy');
    assert.equal(system.registry, undefined);
    assert.deepEqual(system.gateway, {
      port: 8080,
      replicas: 2,
      resources: undefined,
      cors: { origins: ['*'] },
      bodyLimit: 1024 * 1024,
      timeoutMs: 10_000,
      static: '/srv/shippy/ui/dist',
    });
    const server = { resources: undefined, storage: { size: '1Gi' } };
    assert.deepEqual(system.resources, {
      postgres: { embedded: true, url: undefined, image: 'postgres:16.4-bookworm', ...server },
      nats: { url: undefined, image: 'nats:2.10.22-alpine', ...server },
    });
    assert.deepEqual(system.services.vessel, {
      name: 'vessel',
      path: 'vessel',
      dir: '/srv/shippy/vessel',
      entry: '/srv/shippy/vessel/main.ts',
      port: 0,
      replicas: 1,
      uses: ['postgres'],
      dependsOn: ['user'],
      env: { KEY: 'value', RETRIES: '3' },
      secrets: [],
      resources: undefined,
      serves: undefined,
      egress: [],
    });
    assert.deepEqual(system.services.email?.dependsOn, []);
    assert.deepEqual(system.environments, ['production']);
  });

  test('production overlay: replicas, resources, namespace, registry; resources.postgres replaced', () => {
    const system = parse(shippy, 'production');
    assert.equal(system.namespace, 'shippy-prod');
    assert.equal(system.registry, 'registry.example.com/shippy');
    assert.equal(system.services.vessel?.replicas, 3);
    assert.deepEqual(system.services.vessel?.resources, {
      cpu: '250m',
      memory: '256Mi',
      limits: { cpu: '1', memory: '512Mi' },
    });
    assert.deepEqual(system.services.vessel?.uses, ['postgres']); // untouched keys keep the base value
    assert.deepEqual(system.resources.postgres, {
      embedded: false,
      url: 'postgres://db.internal/shippy',
      image: 'postgres:16.4-bookworm',
      resources: undefined,
      storage: { size: '1Gi' },
    });
  });

  test('startOrder puts dependencies first, otherwise keeps file order', () => {
    assert.deepEqual(
      startOrder(parse(shippy)).map((s) => s.name),
      ['user', 'vessel', 'consignment', 'email'],
    );
  });

  test('a minimal file: empty service entries and used resources get defaults', () => {
    const system = parse('system: tiny\nservices:\n  api:\n  worker:\n    uses: [nats]\n');
    assert.deepEqual(Object.keys(system.services), ['api', 'worker']);
    assert.equal(system.services.api?.replicas, 1);
    assert.deepEqual(system.resources, {
      nats: { url: undefined, image: 'nats:2.10.22-alpine', resources: undefined, storage: { size: '1Gi' } },
    });
    assert.equal(system.gateway.port, 8080);
  });

  test('loadSystemFile takes the file or its folder and names it relative to cwd', () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-system-'));
    after(() => rmSync(root, { recursive: true, force: true }));
    writeFileSync(join(root, 'berth.yaml'), shippy);
    assert.equal(loadSystemFile(root).services.vessel?.dir, join(root, 'vessel'));
    assert.equal(loadSystemFile('berth.yaml', { cwd: root, env: 'production' }).services.vessel?.replicas, 3);
    writeFileSync(join(root, 'berth.yaml'), shippyWith('replicas: 3', 'replicas: many'));
    assert.equal(
      configErrorMessage(() => loadSystemFile('.', { cwd: root })),
      'berth.yaml: environments.production.services.vessel.replicas: expected number, got string "many" (line 30)',
    );
    assert.equal(
      configErrorMessage(() => loadSystemFile('nope.yaml', { cwd: root })),
      'nope.yaml: cannot read: file not found',
    );
  });
});

describe('system file: mistakes name the file, the key and what was expected', () => {
  test('unknown service in dependsOn', () => {
    assert.equal(
      configErrorMessage(() => parse(shippyWith('dependsOn: [user]', 'dependsOn: [usr]'))),
      'berth.yaml: services.vessel.dependsOn[0]: unknown service "usr"; services are: consignment, vessel, user, email (line 16)',
    );
  });

  test("a service named like one of berth's own units is refused: its objects would collide", () => {
    for (const unit of ['gateway', 'postgres', 'nats']) {
      assert.match(
        configErrorMessage(() => parse(`system: tiny\nservices:\n  ${unit}: {}\n`)),
        new RegExp(
          `^berth\\.yaml: services\\.${unit}: .*"${unit}" is reserved for berth's own ${unit}: choose another service name \\(line 3\\)$`,
        ),
      );
    }
  });

  test('a password in a resource URL is refused: it belongs in a Secret, named with urlSecret', () => {
    for (const [kind, url] of [
      ['postgres', 'postgres://app:hunter2@db.internal/shippy'],
      ['nats', 'nats://app:hunter2@nats.internal:4222'],
    ] as const) {
      assert.match(
        configErrorMessage(() =>
          parse(`system: tiny\nresources:\n  ${kind}: { url: "${url}" }\nservices:\n  api: {}\n`),
        ),
        new RegExp(
          `resources\\.${kind}\\.url: a password in berth\\.yaml ends up in git and in every Deployment: put the URL in a Secret`,
        ),
      );
    }
    const system = parse(
      'system: tiny\nresources:\n  postgres: { urlSecret: { name: db } }\nservices:\n  api: { uses: [postgres] }\n',
    );
    assert.deepEqual(system.resources.postgres?.urlSecret, { name: 'db', key: 'url' });
    assert.equal(system.resources.postgres?.embedded, false);
    assert.match(
      configErrorMessage(() =>
        parse(
          'system: tiny\nresources:\n  postgres: { url: "postgres://db/x", urlSecret: { name: db } }\nservices:\n  api: {}\n',
        ),
      ),
      /either url or urlSecret, not both/,
    );
  });

  test('dependency cycle', () => {
    const text = shippyWith('uses: [postgres, nats]', 'uses: [postgres, nats]\n    dependsOn: [consignment]');
    assert.equal(
      configErrorMessage(() => parse(text)),
      'berth.yaml: services.consignment.dependsOn: dependency cycle: consignment → vessel → user → consignment (line 10)',
    );
  });

  test('a cycle introduced by an overlay names the overlay key', () => {
    const text = shippyWith('replicas: 3', 'replicas: 3\n        dependsOn: [consignment]');
    assert.match(
      configErrorMessage(() => parse(text)),
      /^berth\.yaml: environments\.production\.services\.vessel\.dependsOn: dependency cycle: /,
    );
  });

  test('bad replicas', () => {
    assert.equal(
      configErrorMessage(() => parse(shippyWith('replicas: 1', 'replicas: 0'))),
      'berth.yaml: services.vessel.replicas: expected a number >= 1, got number 0 (line 14)',
    );
    assert.equal(
      configErrorMessage(() => parse(shippyWith('replicas: 1', 'replicas: 1.5'))),
      'berth.yaml: services.vessel.replicas: expected integer, got number 1.5 (line 14)',
    );
    assert.equal(
      configErrorMessage(() => parse(shippyWith('replicas: 1', 'replicas: two'))),
      'berth.yaml: services.vessel.replicas: expected number, got string "two" (line 14)',
    );
  });

  test('secrets: names of environment variables, deduplicated; anything else is refused', () => {
    const system = parse(
      shippyWith(
        '  user:\n    uses: [postgres, nats]',
        '  user:\n    secrets: [JWT_SECRET, JWT_SECRET]\n    uses: [postgres, nats]',
      ),
    );
    assert.deepEqual(system.services.user?.secrets, ['JWT_SECRET']);
    assert.match(
      configErrorMessage(() =>
        parse(
          shippyWith(
            '  user:\n    uses: [postgres, nats]',
            '  user:\n    secrets: [jwt-secret]\n    uses: [postgres, nats]',
          ),
        ),
      ),
      /^berth\.yaml: services\.user\.secrets\[0\]: expected an environment variable name/,
    );
  });

  test('unknown field', () => {
    assert.equal(
      configErrorMessage(() => parse(shippyWith('replicas: 1', 'replica: 1'))),
      'berth.yaml: services.vessel.replica: unknown key (did you mean "replicas"?); ' +
        'allowed here: path, entry, port, replicas, autoscale, uses, dependsOn, secrets, env, resources, serves, rollout, egress (line 14)',
    );
  });

  test('wrong types and formats', () => {
    assert.equal(
      configErrorMessage(() => parse(shippyWith('system: shippy', 'system: Shippy'))),
      'berth.yaml: system: expected a lowercase name (a-z first, then a-z, 0-9 or "-"; not ending in "-"; ≤ 63), got string "Shippy" (line 2)',
    );
    assert.equal(
      configErrorMessage(() =>
        parse(shippyWith('uses: [postgres]\n    dependsOn: [user]', 'uses: [redis]\n    dependsOn: [user]')),
      ),
      'berth.yaml: services.vessel.uses[0]: expected "postgres" or "nats", got string "redis" (line 15)',
    );
    assert.equal(
      configErrorMessage(() => parse(shippyWith('bodyLimit: 1mb', 'bodyLimit: lots'))),
      'berth.yaml: gateway.bodyLimit: expected a size such as 512kb, 1mb or a number of bytes, got string "lots" (line 3)',
    );
    assert.equal(
      configErrorMessage(() => parse(shippyWith('memory: 256Mi', 'memory: 256MB'))),
      'berth.yaml: environments.production.services.vessel.resources.memory: ' +
        'expected a Kubernetes quantity such as 250m, 0.5, 256Mi or 1Gi, got string "256MB" (line 31)',
    );
    assert.equal(
      configErrorMessage(() => parse('system: x\nservices: [a, b]\n')),
      'berth.yaml: services: expected a mapping, got a list (line 2)',
    );
  });

  test('missing required keys', () => {
    assert.equal(
      configErrorMessage(() => parse('services: {}\n')),
      'berth.yaml: system: missing required key, expected string',
    );
  });

  test('an overlay may only change services the base declares', () => {
    assert.equal(
      configErrorMessage(() =>
        parse(shippyWith('      vessel:\n        replicas: 3', '      vessle:\n        replicas: 3')),
      ),
      'berth.yaml: environments.production.services.vessle: unknown service "vessle"; ' +
        'an overlay can only change consignment, vessel, user, email (line 29)',
    );
  });

  test('two services on the same fixed port', () => {
    const text = shippyWith('    uses: [nats]\n', '    uses: [nats]\n    port: 8080\n');
    assert.equal(
      configErrorMessage(() => parse(text)),
      'berth.yaml: services.email.port: port 8080 is also used by the gateway (line 22)',
    );
  });

  test('postgres: embedded and url at once', () => {
    assert.equal(
      configErrorMessage(() =>
        parse(shippyWith('postgres: { embedded: true }', 'postgres: { embedded: true, url: postgres://x }')),
      ),
      'berth.yaml: resources.postgres: either embedded: true or a url, not both (line 5)',
    );
  });

  test('serves: fully-qualified proto service names, each once', () => {
    const text = shippyWith(
      '    uses: [nats]\n',
      '    uses: [nats]\n    serves: [shippy.email.v1.EmailService, shippy.email.v1.EmailService]\n',
    );
    assert.deepEqual(parse(text).services.email?.serves, ['shippy.email.v1.EmailService']);
    assert.equal(
      configErrorMessage(() =>
        parse(shippyWith('    uses: [nats]\n', '    uses: [nats]\n    serves: [EmailService]\n')),
      ),
      'berth.yaml: services.email.serves[0]: expected a fully-qualified proto service name such as ' +
        'shippy.vessel.v1.VesselService, got string "EmailService" (line 22)',
    );
  });

  test('resource images: set per resource, refused next to an external url', () => {
    const system = parse(
      shippyWith(
        'nats: { }',
        'nats: { image: registry.example.com/nats:2.11@sha256:' + 'a'.repeat(64) + ' }',
      ),
    );
    assert.equal(system.resources.nats?.image, `registry.example.com/nats:2.11@sha256:${'a'.repeat(64)}`);
    assert.equal(
      configErrorMessage(() => parse(shippyWith('nats: { }', 'nats: { image: "nats 2" }'))),
      'berth.yaml: resources.nats.image: expected an image reference such as postgres:16.4-bookworm, got string "nats 2" (line 6)',
    );
    assert.equal(
      configErrorMessage(() =>
        parse(
          shippyWith(
            'postgres: { url: postgres://db.internal/shippy }',
            'postgres: { url: postgres://db.internal/shippy, image: pg:16 }',
          ),
        ),
      ),
      'berth.yaml: environments.production.resources.postgres: image is for the server berth runs; ' +
        'with a url there is none: set one or the other (line 27)',
    );
  });

  test('in-cluster servers: resources and storage per resource, checked, and refused next to an external url', () => {
    const tiny = (postgres: string) =>
      `system: tiny\nresources:\n  postgres: ${postgres}\nservices:\n  api: { uses: [postgres] }\n`;
    const system = parse(
      tiny(
        '{ resources: { cpu: 500m, limits: { memory: 2Gi } }, storage: { size: 20Gi, className: fast.ssd } }',
      ),
    );
    assert.deepEqual(system.resources.postgres?.resources, { cpu: '500m', limits: { memory: '2Gi' } });
    assert.deepEqual(system.resources.postgres?.storage, { size: '20Gi', className: 'fast.ssd' });
    assert.deepEqual(parse(tiny('{ storage: { className: gp3 } }')).resources.postgres?.storage, {
      size: '1Gi',
      className: 'gp3',
    });
    assert.equal(
      configErrorMessage(() => parse(tiny('{ storage: { size: 10GB } }'))),
      'berth.yaml: resources.postgres.storage.size: expected a Kubernetes quantity of bytes above zero, ' +
        'such as 10Gi, 500Mi or 20G, got string "10GB" (line 3)',
    );
    assert.match(
      configErrorMessage(() => parse(tiny('{ storage: { size: 0Gi } }'))),
      /above zero/,
    );
    assert.equal(
      configErrorMessage(() => parse(tiny('{ storage: { className: Fast_SSD } }'))),
      'berth.yaml: resources.postgres.storage.className: expected a StorageClass name such as standard or gp3 ' +
        '(lowercase letters, digits, "-" and "."), got string "Fast_SSD" (line 3)',
    );
    assert.equal(
      configErrorMessage(() => parse(tiny('{ resources: { cpu: lots } }'))),
      'berth.yaml: resources.postgres.resources.cpu: expected a Kubernetes quantity such as 250m, 0.5, 256Mi or 1Gi, got string "lots" (line 3)',
    );
    assert.equal(
      configErrorMessage(() =>
        parse(tiny('{ url: "postgres://db/x", storage: { size: 5Gi }, resources: { cpu: 1 } }')),
      ),
      'berth.yaml: resources.postgres: resources is for the server berth runs; with a url there is none: set one or the other (line 3)\n' +
        'berth.yaml: resources.postgres: storage is for the server berth runs; with a url there is none: set one or the other (line 3)',
    );
  });

  test("a service's egress: a port, optionally a CIDR and a protocol (TCP unless said)", () => {
    const withEgress = (egress: string) => `system: tiny\nservices:\n  api: { egress: ${egress} }\n`;
    assert.deepEqual(
      parse(withEgress('[{ port: 587 }, { port: 53, cidr: "2001:db8::/32", protocol: UDP }]')).services.api
        ?.egress,
      [
        { port: 587, protocol: 'TCP' },
        { port: 53, cidr: '2001:db8::/32', protocol: 'UDP' },
      ],
    );
    assert.equal(
      configErrorMessage(() =>
        parse(
          withEgress(
            '[{ port: 70000 }, { cidr: 10.0.0.0/33, port: 25 }, { port: 25, cidr: 10.0.0.1 }, { port: 25, protocol: ICMP }, { cidr: 10.0.0.0/8 }]',
          ),
        ),
      ),
      [
        'services.api.egress[0].port: expected a number <= 65535, got number 70000 (line 3)',
        'services.api.egress[1].cidr: expected a CIDR such as 203.0.113.0/24 or 2001:db8::/32 (an address, "/" and a prefix length; one address is /32, or /128 in IPv6), got "10.0.0.0/33" (line 3)',
        'services.api.egress[2].cidr: expected a CIDR such as 203.0.113.0/24 or 2001:db8::/32 (an address, "/" and a prefix length; one address is /32, or /128 in IPv6), got "10.0.0.1" (line 3)',
        'services.api.egress[3].protocol: expected "TCP" or "UDP" or "SCTP", got string "ICMP" (line 3)',
        'services.api.egress[4].port: missing required key, expected number',
      ]
        .map((line) => `berth.yaml: ${line}`)
        .join('\n'),
    );
  });

  test('a file that is not a mapping, and YAML syntax errors', () => {
    assert.equal(
      configErrorMessage(() => parse('- system: shippy\n')),
      'berth.yaml: expected a mapping of keys at the top level, got a list (line 1)',
    );
    assert.match(
      configErrorMessage(() => parse('system: shippy\nservices:\n  vessel: {\n')),
      /^berth\.yaml: YAML syntax error at line \d+, column \d+: /,
    );
  });
});
