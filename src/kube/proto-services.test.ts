import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { parseSystemFile } from '../config/system-file.ts';
import { protoServicesOf } from './proto-services.ts';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A system folder with `files` (path → text) and its berth.yaml. */
function systemWith(berthYaml: string, files: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'berth-proto-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return { root, system: parseSystemFile(berthYaml, { file: join(root, 'berth.yaml') }) };
}

const proto = (protoPackage: string, ...services: string[]) =>
  `syntax = "proto3";\npackage ${protoPackage};\n${services.map((name) => `service ${name} {}\n`).join('')}`;

test('each service serves what its package and the packages below it declare; serves: replaces that', () => {
  const { system } = systemWith(
    `system: acme
services:
  billing:
  order-history:
  mailer: { serves: [] }
  search: { serves: [other.search.v1.Search, acme.search.v1.Search] }
`,
    {
      'proto/acme/billing/v1/billing.proto': proto('acme.billing.v1', 'Payments', 'Invoices'),
      'proto/acme/billing/admin.proto': proto('acme.billing', 'Admin'),
      // Not billing's: another package that only starts with the same letters.
      'proto/acme/billingx/v1/x.proto': proto('acme.billingx.v1', 'Lookalike'),
      'contracts/history.proto': proto('acme.order_history.v2', 'History'),
      'proto/acme/search/v1/search.proto': proto('acme.search.v1', 'Search', 'Suggest'),
      // Dependencies, berth's own state and build output are never the system's contracts.
      'node_modules/dep/billing.proto': proto('acme.billing.v1', 'FromADependency'),
      '.berth/cache/billing.proto': proto('acme.billing.v1', 'FromState'),
      'ui/dist/billing.proto': proto('acme.billing.v1', 'FromBuildOutput'),
    },
  );
  assert.deepEqual(protoServicesOf(system), {
    billing: ['acme.billing.Admin', 'acme.billing.v1.Invoices', 'acme.billing.v1.Payments'],
    'order-history': ['acme.order_history.v2.History'],
    mailer: [],
    search: ['acme.search.v1.Search', 'other.search.v1.Search'],
  });
});

test('a service for which nothing is found is named, with the folders searched and the serves key', () => {
  const { root, system } = systemWith('system: acme\nservices:\n  billing:\n  mailer:\n', {
    'proto/acme/billing/v1/billing.proto': proto('acme.billing.v1', 'Payments'),
  });
  assert.throws(
    () => protoServicesOf(system),
    new Error(
      `service "mailer" serves no proto service: no .proto file in ${root} declares a service in package ` +
        `acme.mailer or acme.mailer.*; declare one there, or list what it serves as services.mailer.serves ` +
        `in ${join(root, 'berth.yaml')} (serves: [] for a service without RPC methods)`,
    ),
  );
});

test("a service folder outside the system's root is searched too", () => {
  const elsewhere = mkdtempSync(join(tmpdir(), 'berth-proto-service-'));
  roots.push(elsewhere);
  mkdirSync(join(elsewhere, 'proto'));
  writeFileSync(join(elsewhere, 'proto', 'billing.proto'), proto('acme.billing.v1', 'Payments'));
  const services = `system: acme\nservices:\n  billing: { path: ${elsewhere} }\n`;
  assert.deepEqual(protoServicesOf(systemWith(services, {}).system), {
    billing: ['acme.billing.v1.Payments'],
  });
  const { root, system } = systemWith(`${services}  mailer:\n`, {});
  assert.throws(
    () => protoServicesOf(system),
    new RegExp(`no \\.proto file in ${root}, ${elsewhere} declares`),
  );
});

test('a broken .proto file is named with its line; with serves everywhere no file is read', () => {
  const files = { 'proto/acme/billing/v1/billing.proto': 'package acme.billing.v1;\nservice Payments {\n' };
  const { root, system } = systemWith('system: acme\nservices:\n  billing:\n', files);
  assert.throws(
    () => protoServicesOf(system),
    new Error(`${join(root, 'proto/acme/billing/v1/billing.proto')}:2: { is never closed`),
  );
  const explicit = systemWith(
    'system: acme\nservices:\n  billing: { serves: [acme.billing.v1.Payments] }\n',
    files,
  );
  assert.deepEqual(protoServicesOf(explicit.system), { billing: ['acme.billing.v1.Payments'] });
});
