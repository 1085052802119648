/**
 * Names `berth new` accepts, and the spellings the templates need: a service is
 * `order-history` in berth.yaml, `order_history` in proto packages (proto names have
 * no `-`), `OrderHistory` in types and `orderHistory` in functions.
 */

import { NAME, unitNames } from '../config/system-file-schema.ts';

/**
 * Names a service cannot take: the runner's own units (`gateway`, `postgres`) and
 * resources (`nats`), and the system's shared folders, which a service folder of
 * that name would collide with.
 */
export const RESERVED_SERVICE_NAMES = [...unitNames, 'configs', 'proto', 'gen'] as const;

/** Why `name` cannot name a system (`what` = "system") or service; undefined when it can. */
export function nameProblem(name: string, what: 'system' | 'service'): string | undefined {
  if (!NAME.test(name)) {
    return `"${name}" is not a valid ${what} name: use lowercase letters, digits and "-", starting with a letter and not ending with "-", at most 63 characters (e.g. "orders" or "order-history")`;
  }
  if (what === 'service' && (RESERVED_SERVICE_NAMES as readonly string[]).includes(name)) {
    return `"${name}" is reserved (${RESERVED_SERVICE_NAMES.join(', ')} are taken by berth or the system's folders); choose another service name`;
  }
  return undefined;
}

/** `order-history` → `order_history`: a proto package segment. */
export function snakeCase(name: string): string {
  return name.replaceAll('-', '_');
}

/** `order-history` → `OrderHistory`. */
export function pascalCase(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** `order-history` → `orderHistory`. */
export function camelCase(name: string): string {
  const pascal = pascalCase(name);
  return pascal.charAt(0).toLowerCase() + pascal.slice(1);
}
