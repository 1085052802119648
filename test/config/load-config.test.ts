import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { z } from 'zod';
import { ConfigError } from '../../src/config/config-error.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { configErrorMessage } from '../support/config-error.ts';

const schema = z.strictObject({
  name: z.string(),
  database: z.strictObject({
    url: z.string(),
    port: z.int().default(5432),
    pool: z
      .strictObject({ max: z.int().min(1).default(10), idleMs: z.int().optional() })
      .default({ max: 10 }),
  }),
  max_weight: z.number().default(0),
  maxCapacity: z.number().default(0),
  debug: z.boolean().default(false),
  tags: z.array(z.string()).default([]),
  ports: z.array(z.int()).default([]),
  labels: z.record(z.string(), z.string()).default({}),
});

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A temp project with `configs/<name>` files; returns its folder (the cwd). */
function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-config-'));
  roots.push(root);
  mkdirSync(join(root, 'configs'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'configs', name), text);
  return root;
}

function load(
  files: Record<string, string>,
  options: { env?: string; environment?: Record<string, string>; prefix?: string } = {},
) {
  return loadConfig({ schema, dir: 'configs', cwd: project(files), prefix: 'VESSEL_', ...options });
}

const base = 'name: vessel\ndatabase:\n  url: postgres://localhost/vessel\n';

describe('loadConfig: merging', () => {
  test('base, then <env>.yaml, then environment variables; defaults fill the rest', () => {
    const config = load(
      {
        'base.yaml': base + '  pool:\n    max: 5\n    idleMs: 100\ntags: [a, b]\n',
        'dev.yaml': 'database:\n  pool:\n    max: 7\ntags: [c]\ndebug: true\n',
      },
      { environment: { VESSEL_DATABASE__POOL__MAX: '9', OTHER_NAME: 'ignored' } },
    );
    assert.deepEqual(config, {
      name: 'vessel',
      database: { url: 'postgres://localhost/vessel', port: 5432, pool: { max: 9, idleMs: 100 } },
      max_weight: 0,
      maxCapacity: 0,
      debug: true,
      tags: ['c'], // lists replace, they do not concatenate
      ports: [],
      labels: {},
    });
  });

  test('the overlay for another environment is not read', () => {
    const config = load({ 'base.yaml': base, 'production.yaml': 'debug: true\n' }, { env: 'dev' });
    assert.equal(config.debug, false);
    assert.equal(
      load({ 'base.yaml': base, 'production.yaml': 'debug: true\n' }, { env: 'production' }).debug,
      true,
    );
  });

  test('both files are optional; an empty file is an empty mapping', () => {
    const config = load(
      { 'dev.yaml': '' },
      { environment: { VESSEL_NAME: 'v', VESSEL_DATABASE__URL: 'postgres://x/y' } },
    );
    assert.equal(config.name, 'v');
    assert.equal(config.database.url, 'postgres://x/y');
  });
});

describe('loadConfig: environment variables', () => {
  test('values are coerced to what the schema expects at that key', () => {
    const config = load(
      { 'base.yaml': base },
      {
        environment: {
          VESSEL_DATABASE__PORT: '6543',
          VESSEL_DEBUG: 'yes',
          VESSEL_TAGS: '["x","y"]',
          VESSEL_PORTS: '80, 443',
          VESSEL_MAX_WEIGHT: '200000', // matches the schema's own snake_case key
          VESSEL_MAX_CAPACITY: '500', // → maxCapacity
          VESSEL_LABELS__TEAM: 'freight', // open-ended mapping: camelCase key
        },
      },
    );
    assert.equal(config.database.port, 6543);
    assert.equal(config.debug, true);
    assert.deepEqual(config.tags, ['x', 'y']);
    assert.deepEqual(config.ports, [80, 443]);
    assert.equal(config.max_weight, 200000);
    assert.equal(config.maxCapacity, 500);
    assert.deepEqual(config.labels, { team: 'freight' });
  });

  test('keys match ignoring case, and an empty prefix reads unprefixed variables and skips the rest', () => {
    const config = load(
      { 'base.yaml': base },
      {
        prefix: '',
        environment: { DEBUG: 'true', PATH: '/usr/bin', HOME: '/root', database__pool__max: '3' },
      },
    );
    assert.equal(config.debug, true);
    assert.equal(config.database.pool.max, 3);
  });

  test('a number segment indexes a list; a JSON mapping merges over the files', () => {
    const servers = z.strictObject({
      servers: z.array(z.strictObject({ host: z.string(), port: z.int() })),
      db: z.strictObject({ url: z.string(), max: z.int() }),
    });
    const cwd = project({
      'base.yaml': 'servers:\n  - { host: a, port: 1 }\n  - { host: b, port: 2 }\ndb: { url: x, max: 1 }\n',
    });
    const config = loadConfig({
      schema: servers,
      dir: 'configs',
      cwd,
      prefix: 'APP_',
      environment: { APP_SERVERS__1__PORT: '9', APP_DB: '{"max": 4}' },
    });
    assert.deepEqual(config, {
      servers: [
        { host: 'a', port: 1 },
        { host: 'b', port: 9 },
      ],
      db: { url: 'x', max: 4 },
    });
  });

  test('an override of a key the files set in another case keeps the file key', () => {
    const config = load(
      { 'base.yaml': base + 'labels:\n  teamName: a\n' },
      { environment: { VESSEL_LABELS__TEAM_NAME: 'b' } },
    );
    assert.deepEqual(config.labels, { teamName: 'b' });
  });
});

describe('loadConfig: mistakes, one line each naming the file or variable, the key and the expectation', () => {
  test('missing required key names the key, the expected type and where to set it', () => {
    const message = configErrorMessage(() => load({ 'base.yaml': 'name: vessel\ndatabase:\n  port: 1\n' }));
    assert.equal(
      message,
      'configs: database.url: missing required key, expected string; ' +
        'set it in configs/base.yaml or configs/dev.yaml, or with VESSEL_DATABASE__URL',
    );
  });

  test('wrong type in base.yaml names base.yaml, the key, expected and found, and the line', () => {
    const message = configErrorMessage(() => load({ 'base.yaml': base + '  port: abc\n' }));
    assert.equal(message, 'configs/base.yaml: database.port: expected number, got string "abc" (line 4)');
  });

  test('wrong type in the overlay names the overlay file, not base.yaml', () => {
    const message = configErrorMessage(() =>
      load({ 'base.yaml': base + '  port: 5432\n', 'dev.yaml': 'database:\n  port: "abc"\n' }),
    );
    assert.equal(message, 'configs/dev.yaml: database.port: expected number, got string "abc" (line 2)');
  });

  test('a constraint names what was expected', () => {
    const message = configErrorMessage(() => load({ 'base.yaml': base + '  pool:\n    max: 0\n' }));
    assert.equal(
      message,
      'configs/base.yaml: database.pool.max: expected a number >= 1, got number 0 (line 5)',
    );
  });

  test('a bad environment variable names the variable', () => {
    const message = configErrorMessage(() =>
      load({ 'base.yaml': base }, { environment: { VESSEL_DATABASE__PORT: 'abc' } }),
    );
    assert.equal(
      message,
      'environment variable VESSEL_DATABASE__PORT: database.port: expected number, got string "abc"',
    );
  });

  test('a prefixed variable that names no key is an error, not silently ignored', () => {
    const message = configErrorMessage(() =>
      load({ 'base.yaml': base }, { environment: { VESSEL_DATABSE__URL: 'x' } }),
    );
    assert.match(
      message,
      /^environment variable VESSEL_DATABSE__URL: "DATABSE" is not a config key; keys here: name, database,/,
    );
  });

  test('invalid JSON in a list variable names the variable', () => {
    const message = configErrorMessage(() =>
      load({ 'base.yaml': base }, { environment: { VESSEL_TAGS: '[a' } }),
    );
    assert.match(message, /^environment variable VESSEL_TAGS: tags: expected a JSON list, got invalid JSON/);
  });

  test('YAML syntax error names the file, line and column', () => {
    const message = configErrorMessage(() =>
      load({ 'base.yaml': base, 'dev.yaml': 'database:\n  port: [1, 2\n' }),
    );
    assert.match(message, /^configs\/dev\.yaml: YAML syntax error at line \d+, column \d+: /);
    const duplicate = configErrorMessage(() => load({ 'base.yaml': 'name: a\nname: b\n' }));
    assert.match(
      duplicate,
      /^configs\/base\.yaml: YAML syntax error at line 2, column 1: Map keys must be unique/,
    );
  });

  test('unknown key names the file it is in, with a suggestion', () => {
    const message = configErrorMessage(() =>
      load({ 'base.yaml': base, 'dev.yaml': 'database:\n  prot: 5433\n' }, { environment: {} }),
    );
    assert.equal(
      message,
      'configs/dev.yaml: database.prot: unknown key (did you mean "port"?); allowed here: url, port, pool (line 2)',
    );
  });

  test('a file whose top level is not a mapping', () => {
    const message = configErrorMessage(() => load({ 'base.yaml': '- name: vessel\n' }));
    assert.equal(
      message,
      'configs/base.yaml: expected a mapping of keys at the top level, got a list (line 1)',
    );
    const scalar = configErrorMessage(() => load({ 'base.yaml': base, 'dev.yaml': 'just text\n' }));
    assert.match(
      scalar,
      /^configs\/dev\.yaml: expected a mapping of keys at the top level, got string "just text"/,
    );
  });

  test('every problem is reported at once, one per line', () => {
    const message = configErrorMessage(() =>
      load(
        { 'base.yaml': 'name: 5\ndatabase:\n  url: x\n', 'dev.yaml': 'debug: maybe\n' },
        { environment: { VESSEL_MAX_WEIGHT: 'heavy' } },
      ),
    );
    assert.deepEqual(message.split('\n'), [
      'configs/base.yaml: name: expected string, got number 5 (line 1)',
      'environment variable VESSEL_MAX_WEIGHT: max_weight: expected number, got string "heavy"',
      'configs/dev.yaml: debug: expected boolean, got string "maybe" (line 1)',
    ]);
  });

  test('ConfigError carries the problems as data', () => {
    try {
      load({ 'base.yaml': base + '  port: abc\n' });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        {
          source: 'configs/base.yaml',
          key: 'database.port',
          message: 'expected number, got string "abc"',
          line: 4,
          column: 3,
        },
      ]);
    }
  });
});
