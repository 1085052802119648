import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProtoSyntaxError, parseProtoDeclarations } from './proto-file.ts';

const parse = (text: string) => parseProtoDeclarations(text, 'x.proto');
const errorOf = (text: string) => {
  try {
    parse(text);
  } catch (error) {
    assert.ok(error instanceof ProtoSyntaxError, String(error));
    return error.message;
  }
  assert.fail('parsed without an error');
};

test("shippy's contracts: package and services as declared", () => {
  const proto = join(import.meta.dirname, '../../examples/shippy/proto/shippy');
  const read = (path: string) => parseProtoDeclarations(readFileSync(join(proto, path), 'utf8'), path);
  assert.deepEqual(read('vessel/v1/vessel.proto'), {
    package: 'shippy.vessel.v1',
    services: ['VesselService'],
  });
  assert.deepEqual(read('user/v1/user.proto'), { package: 'shippy.user.v1', services: ['UserService'] });
});

test('comments, strings and nested blocks do not declare anything', () => {
  const text = `
    // service Commented {}
    /* package not.this;
       service NorThis {} */
    syntax = "proto3";
    package   acme . billing.v1 ; // spaces around dots are protoc's grammar too
    option go_package = "service Quoted { package x; }";
    option (custom) = { service: "x" };
    message Invoice {
      string service = 1;
      string note = 2 [default = 'it\\'s a \\"service\\" {'];
      message Inner { }
    }
    service Invoices { rpc Get(Invoice) returns (Invoice) { option idempotency_level = NO_SIDE_EFFECTS; } }
    service Payments {}
  `;
  assert.deepEqual(parse(text), { package: 'acme.billing.v1', services: ['Invoices', 'Payments'] });
});

test('a file without package or services', () => {
  assert.deepEqual(parse('syntax = "proto3";\nmessage A {}\n'), { package: '', services: [] });
  assert.deepEqual(parse(''), { package: '', services: [] });
});

test('broken files are refused with the file and line', () => {
  assert.equal(
    errorOf('syntax = "proto3";\n/* open\n\n'),
    'x.proto:2: comment opened with /* is never closed',
  );
  assert.equal(
    errorOf('option a = "unclosed;\nservice A {}'),
    'x.proto:1: string opened with " is not closed on its line',
  );
  assert.equal(
    errorOf('option a = "ends in \\\n";'),
    'x.proto:1: string opened with " is not closed on its line',
  );
  assert.equal(errorOf('message A {\n  string b = 1;\n'), 'x.proto:1: { is never closed');
  assert.equal(errorOf('message A {}\n}\n'), 'x.proto:2: } without a matching {');
  assert.equal(
    errorOf('package a.b\nservice S {}'),
    'x.proto:2: expected ; after package a.b, found service',
  );
  assert.equal(errorOf('package 1a;'), 'x.proto:1: expected a package name after package, found 1a');
  assert.equal(errorOf('package a.;'), 'x.proto:1: expected a name after package a., found ;');
  assert.equal(
    errorOf('package a;\n\npackage b;'),
    'x.proto:3: a second package statement (the first is on line 1)',
  );
  assert.equal(errorOf('service {}'), 'x.proto:1: expected a service name after service, found {');
  assert.equal(errorOf('service A.B {}'), 'x.proto:1: expected { after service A, found .');
  assert.equal(errorOf('package a'), 'x.proto:1: the file ends after package a');
});
