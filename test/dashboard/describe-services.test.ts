/** The example requests of `/descriptors`, which the API explorer prefills: each one a request the service accepts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, createFileRegistry, fromJson, type JsonValue } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from '@bufbuild/protobuf/wkt';
import { describeServices } from '../../src/service/describe-services.ts';

const optional = FieldDescriptorProto_Label.OPTIONAL;
const file = create(FileDescriptorProtoSchema, {
  name: 'pay.proto',
  package: 'test.pay',
  syntax: 'proto3',
  messageType: [
    {
      name: 'PayRequest',
      field: [
        {
          name: 'amount',
          jsonName: 'amount',
          number: 1,
          type: FieldDescriptorProto_Type.INT64,
          label: optional,
        },
        {
          name: 'card',
          jsonName: 'card',
          number: 2,
          type: FieldDescriptorProto_Type.STRING,
          label: optional,
          oneofIndex: 0,
        },
        {
          name: 'iban',
          jsonName: 'iban',
          number: 3,
          type: FieldDescriptorProto_Type.STRING,
          label: optional,
          oneofIndex: 0,
        },
        { name: 'note', jsonName: 'note', number: 4, type: FieldDescriptorProto_Type.BOOL, label: optional },
      ],
      oneofDecl: [{ name: 'method' }],
    },
    { name: 'PayResponse' },
  ],
  service: [
    {
      name: 'PayService',
      method: [{ name: 'Pay', inputType: '.test.pay.PayRequest', outputType: '.test.pay.PayResponse' }],
    },
  ],
});
const registry = createFileRegistry(file, () => undefined);

test('of a oneof only its first field is set, so the example parses; other fields keep their order', () => {
  const { services } = describeServices([registry.getService('test.pay.PayService')!]);
  const example = services[0]!.methods[0]!.example;
  assert.deepEqual(example, { amount: '0', card: '', note: false });
  fromJson(registry.getMessage('test.pay.PayRequest')!, example as JsonValue);
});
