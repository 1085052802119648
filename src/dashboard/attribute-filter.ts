/**
 * Filters of the trace list by attribute, as `GET /api/traces?attr=` and
 * `berth traces --attr` take them: `key=value` (split at the first `=`) or `key`
 * alone (the attribute is set, to anything). A trace matches a filter when one of
 * its spans, or that span's resource, has the attribute; every filter must match,
 * each possibly on another span. Values compare as text, so `…status_code=503`
 * matches the number 503 and `…=true` the boolean; a list matches when one of its
 * items does. Bounded for the store's sake: at most 10 filters, of keys and values
 * of at most 256 characters, compared plainly (no patterns from users).
 */
import { HttpError } from './http-io.ts';
import type { AttributeValue, SpanRecord } from './otlp-json.ts';

export interface AttributeFilter {
  readonly key: string;
  /** Undefined: the key alone, any value. */
  readonly value: string | undefined;
}

const MAX_ATTRIBUTE_FILTERS = 10;
const MAX_ATTRIBUTE_FILTER_CHARS = 256;

/** A filter that is not one; its message names it, for the caller to prefix with the parameter or flag. */
export class AttributeFilterError extends Error {}

export function parseAttributeFilters(texts: readonly string[]): AttributeFilter[] {
  if (texts.length > MAX_ATTRIBUTE_FILTERS) {
    throw new AttributeFilterError(`${texts.length} filters given, at most ${MAX_ATTRIBUTE_FILTERS}`);
  }
  return texts.map((text) => {
    const equals = text.indexOf('=');
    const key = equals === -1 ? text : text.slice(0, equals);
    const value = equals === -1 ? undefined : text.slice(equals + 1);
    if (key === '') throw new AttributeFilterError(`"${text}": empty key (expected key=value or key)`);
    for (const [what, part] of [
      ['key', key],
      ['value', value ?? ''],
    ] as const) {
      if (part.length > MAX_ATTRIBUTE_FILTER_CHARS) {
        throw new AttributeFilterError(
          `"${text.slice(0, 40)}…": ${what} of ${part.length} characters, at most ${MAX_ATTRIBUTE_FILTER_CHARS}`,
        );
      }
    }
    return { key, value };
  });
}

/** The `attr` parameters of GET /api/traces; a bad one is a 400 naming it. */
export function attributeFiltersOf(params: readonly string[]): AttributeFilter[] {
  try {
    return parseAttributeFilters(params);
  } catch (error) {
    if (error instanceof AttributeFilterError) throw new HttpError(400, `attr: ${error.message}`);
    throw error;
  }
}

/** Every filter matches some span of `spans` (or its resource). */
export function matchesAll(spans: readonly SpanRecord[], filters: readonly AttributeFilter[]): boolean {
  return filters.every((filter) =>
    spans.some(
      (span) =>
        matches(own(span.attributes, filter.key), filter) || matches(own(span.resource, filter.key), filter),
    ),
  );
}

/** Own keys only: `constructor` or `__proto__` must not name Object's members. */
function own(record: Readonly<Record<string, AttributeValue>>, key: string): AttributeValue | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function matches(attribute: AttributeValue | undefined, filter: AttributeFilter): boolean {
  if (attribute === undefined) return false;
  if (filter.value === undefined) return true;
  if (Array.isArray(attribute)) return attribute.some((item) => matches(item, filter));
  return (typeof attribute === 'string' ? attribute : JSON.stringify(attribute)) === filter.value;
}
