/**
 * Just enough zod introspection to map environment variables onto a schema: the
 * schema at a key path, the keys of an object, and the kind of value expected
 * (to turn the string in a variable into a number, boolean, list...). Reads the
 * `_zod.def` that every zod v4 schema (classic or mini) carries.
 */
import type { z } from 'zod';

interface Def {
  readonly type: string;
  readonly innerType?: z.core.$ZodType;
  readonly in?: z.core.$ZodType;
  readonly shape?: Record<string, z.core.$ZodType>;
  readonly element?: z.core.$ZodType;
  readonly items?: readonly z.core.$ZodType[];
  readonly valueType?: z.core.$ZodType;
  readonly options?: readonly z.core.$ZodType[];
  readonly left?: z.core.$ZodType;
  readonly right?: z.core.$ZodType;
  readonly values?: readonly unknown[];
  readonly entries?: Record<string, unknown>;
  readonly getter?: () => z.core.$ZodType;
}

const defOf = (schema: z.core.$ZodType): Def => schema._zod.def as unknown as Def;

/** The schema with optional/default/nullable/pipe... wrappers removed. */
export function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  for (let i = 0; i < 32; i++) {
    const def = defOf(schema);
    const next =
      def.type === 'lazy' && def.getter
        ? def.getter()
        : def.type === 'pipe'
          ? def.in
          : (def.innerType ?? undefined);
    if (!next) return schema;
    schema = next;
  }
  return schema;
}

export type ValueKind =
  | 'string'
  | 'number'
  | 'bigint'
  | 'boolean'
  | 'null'
  | 'list'
  | 'mapping'
  | 'union'
  | 'any';

export function kindOf(schema: z.core.$ZodType): ValueKind {
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case 'string':
    case 'enum':
    case 'template_literal':
      return def.type === 'enum' && Object.values(def.entries ?? {}).every((v) => typeof v === 'number')
        ? 'number'
        : 'string';
    case 'number':
    case 'int':
    case 'nan':
      return 'number';
    case 'bigint':
      return 'bigint';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
    case 'tuple':
    case 'set':
      return 'list';
    case 'object':
    case 'record':
    case 'map':
    case 'intersection':
      return 'mapping';
    case 'union':
      return 'union';
    case 'literal': {
      const kinds = new Set((def.values ?? []).map((v) => (v === null ? 'null' : typeof v)));
      return kinds.size === 1 && ['string', 'number', 'boolean', 'null'].includes([...kinds][0]!)
        ? ([...kinds][0] as ValueKind)
        : 'any';
    }
    default:
      return 'any';
  }
}

/** Union members (unwrapped), for kind `union`. */
export function unionOptions(schema: z.core.$ZodType): z.core.$ZodType[] {
  return [...(defOf(unwrap(schema)).options ?? [])];
}

/** Declared keys of an object schema (both sides of an intersection); `undefined` when open-ended (a record). */
export function objectKeys(schema: z.core.$ZodType): string[] | undefined {
  const def = defOf(unwrap(schema));
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.type === 'intersection' && def.left && def.right) {
    const left = objectKeys(def.left);
    const right = objectKeys(def.right);
    return left && right ? [...left, ...right] : undefined;
  }
  return undefined;
}

/** The schema for `key` (a property name or list index) inside `schema`, if the schema says. */
export function childSchema(schema: z.core.$ZodType, key: string | number): z.core.$ZodType | undefined {
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case 'object':
      return typeof key === 'string' && def.shape && Object.hasOwn(def.shape, key)
        ? def.shape[key]
        : undefined;
    case 'record':
      return def.valueType;
    case 'array':
      return def.element;
    case 'tuple':
      return typeof key === 'number' ? def.items?.[key] : undefined;
    case 'intersection':
      return (def.left && childSchema(def.left, key)) ?? (def.right && childSchema(def.right, key));
    default:
      return undefined;
  }
}

/** Element schema of a list schema. */
export function elementSchema(schema: z.core.$ZodType): z.core.$ZodType | undefined {
  return defOf(unwrap(schema)).element;
}
