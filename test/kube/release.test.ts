/**
 * Image tags come from content: what goes into an image, and nothing else,
 * decides its tag. No cluster needed.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSystemFile, parseSystemFile } from '../../src/config/system-file.ts';
import { imageDockerignore } from '../../src/kube/content-tag.ts';
import { dockerfileFor } from '../../src/kube/dockerfile.ts';
import { createRelease, imageInputs, parseTagOverrides } from '../../src/kube/release.ts';
import { repoRoot } from '../support/processes.ts';

const shippy = join(repoRoot, 'examples/shippy');

test("a service's image holds berth's runtime, the shared folders its code imports, and its own folder", () => {
  const system = loadSystemFile(shippy, { env: 'production' });
  const inputs = imageInputs(system, 'vessel').map((path) => path.slice(repoRoot.length + 1));
  assert.deepEqual(inputs, [
    'src',
    'package.json',
    'package-lock.json',
    'examples/shippy/configs',
    'examples/shippy/gen',
    'examples/shippy/vessel',
  ]);
  const dockerfile = dockerfileFor(system, 'vessel');
  assert.match(
    dockerfile,
    /^COPY --chown=10001:10001 examples\/shippy\/configs \.\/examples\/shippy\/configs$/m,
  );
  assert.match(
    dockerfile,
    /^CMD \["node","--max-semi-space-size=8","examples\/shippy\/vessel\/main\.ts"\]$/m,
  );
  assert.doesNotMatch(dockerfile, /shippy\/(user|email|consignment|ui)/);
});

test('changing a file of a service gives that service, and only it, a new tag', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-release-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  cpSync(join(shippy, 'vessel'), join(root, 'vessel'), { recursive: true });
  cpSync(join(shippy, 'user'), join(root, 'user'), { recursive: true });
  writeFileSync(join(root, 'berth.yaml'), 'system: shippy\nservices:\n  vessel:\n  user:\n');
  const release = () => createRelease(loadSystemFile(root)).tags;

  const first = release();
  assert.match(first.vessel!, /^[0-9a-f]{12}$/);
  assert.deepEqual(release(), first, 'same content, same tags');
  appendFileSync(join(root, 'vessel', 'handlers.ts'), '\n// a change\n');
  const second = release();
  assert.notEqual(second.vessel, first.vessel);
  assert.equal(second.user, first.user);
  assert.equal(second.gateway, first.gateway);

  // Tests are not shipped, so they do not count: adding or changing one keeps every tag.
  writeFileSync(join(root, 'vessel', 'handlers.test.ts'), 'test("x", () => {});\n');
  mkdirSync(join(root, 'vessel', 'test'));
  writeFileSync(join(root, 'vessel', 'test', 'fixture.json'), '{}');
  assert.deepEqual(release(), second, 'tests do not change tags');
});

test('the base image is part of every tag: a new base gives every image a new tag, nothing else in berth.yaml does', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-release-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  cpSync(join(shippy, 'vessel'), join(root, 'vessel'), { recursive: true });
  cpSync(join(shippy, 'user'), join(root, 'user'), { recursive: true });
  const tagsFor = (yaml: string, env?: string) => {
    writeFileSync(join(root, 'berth.yaml'), yaml);
    return createRelease(loadSystemFile(root, env === undefined ? {} : { env })).tags;
  };
  const plain = tagsFor('system: shippy\nservices:\n  vessel:\n  user:\n');
  const reshaped = tagsFor(`system: shippy
namespace: elsewhere
registry: registry.example.com/shippy
gateway: { port: 9090, timeoutMs: 5000 }
resources: { postgres: { url: postgres://db.example.com/shippy } }
services:
  vessel: { replicas: 3, env: { SEED: "false" }, uses: [postgres] }
  user: { resources: { cpu: 250m } }
`);
  assert.deepEqual(reshaped, plain, 'replicas, registry, namespace, env, resources: not in any image');
  const defaultBase = tagsFor(
    'system: shippy\nbuild: { base: node:24-bookworm-slim }\nservices:\n  vessel:\n  user:\n',
  );
  assert.deepEqual(defaultBase, plain, 'the default base, written out, is the same base');

  const rebased = tagsFor(
    'system: shippy\nbuild: { base: node:24.11-bookworm-slim }\nservices:\n  vessel:\n  user:\n',
  );
  for (const name of ['vessel', 'user', 'gateway']) assert.notEqual(rebased[name], plain[name], name);

  const overlaid = `system: shippy
services:
  vessel:
  user:
environments:
  production:
    build:
      base: registry.example.com/node@sha256:${'a'.repeat(64)}
`;
  assert.deepEqual(tagsFor(overlaid), plain, 'dev keeps the top-level (default) base');
  const production = tagsFor(overlaid, 'production');
  for (const name of ['vessel', 'user', 'gateway']) assert.notEqual(production[name], plain[name], name);
});

test("the Dockerfile's stages start FROM the environment's base image; a base that is no image reference is named", () => {
  const file = join(shippy, 'berth.yaml');
  const text = `system: shippy
build: { base: docker.io/library/node:24-bookworm-slim }
services:
  vessel:
environments:
  production:
    build: { base: "node@sha256:${'b'.repeat(64)}" }
`;
  const dev = dockerfileFor(parseSystemFile(text, { file }), 'vessel');
  assert.match(dev, /^FROM docker\.io\/library\/node:24-bookworm-slim AS dependencies$/m);
  assert.match(dev, /^FROM docker\.io\/library\/node:24-bookworm-slim$/m);
  const production = dockerfileFor(parseSystemFile(text, { file, env: 'production' }), 'vessel');
  assert.equal(production.match(/^FROM node@sha256:b{64}( AS dependencies)?$/gm)?.length, 2);
  assert.equal(
    parseSystemFile('system: shippy\nservices: { vessel: }\n', { file }).build.base,
    'node:24-bookworm-slim',
  );

  assert.throws(
    () => parseSystemFile('system: shippy\nbuild: { base: "Node 24" }\nservices: { vessel: }\n', { file }),
    /build\.base: expected an image reference/,
  );
  assert.throws(
    () => parseSystemFile('system: shippy\nbuild: { bsae: node:24 }\nservices: { vessel: }\n', { file }),
    /build\.bsae/,
  );
});

test('the build ignores what the tag ignores: tests and dev state, but keeps a static folder named dist', () => {
  const ignore = imageDockerignore(['examples/shippy/ui/dist']).split('\n');
  for (const pattern of ['**/*.test.ts', '**/test', '**/node_modules', '**/.berth', '**/dist'])
    assert.ok(ignore.includes(pattern), pattern);
  assert.equal(ignore.at(-2), '!examples/shippy/ui/dist', 'the exception comes last, so it wins');
});

test('--tag overrides: one for every image, or one per image; mistakes are named', () => {
  const names = ['vessel', 'user', 'gateway'];
  assert.deepEqual(parseTagOverrides(['r1', 'vessel=r2'], names), {
    vessel: 'r2',
    user: 'r1',
    gateway: 'r1',
  });
  assert.deepEqual(parseTagOverrides(['vessel=r2', 'r1'], names), {
    vessel: 'r2',
    user: 'r1',
    gateway: 'r1',
  });
  assert.throws(
    () => parseTagOverrides(['ship=r2'], names),
    /--tag ship=r2: no image "ship"; images: vessel, user, gateway/,
  );
  assert.throws(() => parseTagOverrides(['vessel=bad:tag'], names), /"bad:tag" is not a usable image tag/);
  const system = loadSystemFile(shippy, { env: 'production' });
  const tags = createRelease(
    system,
    parseTagOverrides(['1.4.2'], [...Object.keys(system.services), 'gateway']),
  ).tags;
  assert.deepEqual(new Set(Object.values(tags)), new Set(['1.4.2']));
});
