/**
 * What a service's `/descriptors` answers (ops-endpoints.ts): the proto services it
 * serves, each method with an example request in proto3 JSON that the `berth run`
 * dashboard's API explorer prefills, and that the service accepts as it is.
 */
import { type DescField, type DescMessage, type DescService, ScalarType } from '@bufbuild/protobuf';

export interface MethodDescription {
  readonly name: string;
  readonly kind: string;
  readonly input: string;
  readonly output: string;
  /**
   * A request in proto3 JSON with every field set to its zero value (nested messages
   * filled in), of each oneof only its first field: a request may set one of them.
   */
  readonly example: unknown;
}

export interface ServiceDescription {
  readonly typeName: string;
  readonly methods: readonly MethodDescription[];
}

export function describeServices(schemas: readonly DescService[]): { services: ServiceDescription[] } {
  return {
    services: schemas.map((schema) => ({
      typeName: schema.typeName,
      methods: schema.methods.map((method) => ({
        name: method.name,
        kind: method.methodKind,
        input: method.input.typeName,
        output: method.output.typeName,
        example: exampleOf(method.input, 0),
      })),
    })),
  };
}

const int64s = [
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
  ScalarType.SINT64,
];

function scalarExample(scalar: ScalarType): unknown {
  if (scalar === ScalarType.STRING || scalar === ScalarType.BYTES) return '';
  if (scalar === ScalarType.BOOL) return false;
  return int64s.includes(scalar) ? '0' : 0; // proto3 JSON writes 64-bit integers as strings
}

/** Well-known types have JSON forms of their own; deep nesting stops at 3 levels (recursive messages). */
function exampleOf(message: DescMessage, depth: number): unknown {
  if (message.typeName.startsWith('google.protobuf.') || depth > 3) return null;
  const example: Record<string, unknown> = {};
  for (const member of message.members) {
    const field = member.kind === 'oneof' ? member.fields[0] : member;
    if (field) example[field.name] = fieldExample(field, depth);
  }
  return example;
}

function fieldExample(field: DescField, depth: number): unknown {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarExample(field.scalar);
    case 'enum':
      return field.enum.values[0]?.name ?? 0;
    case 'message':
      return exampleOf(field.message, depth + 1);
    case 'list':
      if (field.listKind === 'message') return [exampleOf(field.message, depth + 1)];
      if (field.listKind === 'enum') return [field.enum.values[0]?.name ?? 0];
      return [scalarExample(field.scalar)];
    case 'map':
      return {};
  }
}
