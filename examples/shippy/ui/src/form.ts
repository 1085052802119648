/**
 * What a form's fields must hold, checked in the page before anything is sent
 * (the services check it again: these are the limits of the API contract), and
 * which field a service's refusal is about. Messages are whole sentences that say
 * what to do.
 */
import { GatewayError, sentence } from './api.ts';
import { formatNumber } from './format.ts';

export interface FieldSpec {
  /** The request field (`max_weight`); services name it in their refusals. */
  readonly name: string;
  /** The element's id, for the error summary's links. */
  readonly id: string;
  /** How a message names it: `the description`. */
  readonly what: string;
  /** Said when it is blank, e.g. `Enter a description`; absent for optional fields. */
  readonly blank?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  /** A whole number between these, counted in `unit` (`kilograms`). */
  readonly range?: { readonly min: number; readonly max: number; readonly unit: string };
  readonly email?: boolean;
}

/** Field name → what is wrong with it. */
export type FieldErrors = Readonly<Record<string, string>>;

/**
 * One address, no display name, no list: `a,b@x.com` and `A <a@x.com>` are refused
 * (the user service parses strictly too, so a comma never reaches a mail server).
 */
const oneEmail = /^[^\s@,;<>()[\]"]+@[^\s@,;<>()[\]".]+(?:\.[^\s@,;<>()[\]".]+)+$/;

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What is wrong with `value` (already trimmed), or undefined. */
export function checkField(spec: FieldSpec, value: string): string | undefined {
  if (value === '') return spec.blank ? `${spec.blank}.` : undefined;
  const length = [...value].length;
  if (spec.maxLength !== undefined && length > spec.maxLength) {
    return `${upperFirst(spec.what)} must be ${formatNumber(spec.maxLength)} characters or fewer; it has ${formatNumber(length)}.`;
  }
  if (spec.minLength !== undefined && length < spec.minLength) {
    return `${upperFirst(spec.what)} must be at least ${formatNumber(spec.minLength)} characters long.`;
  }
  if (spec.email && (value.length > 254 || !oneEmail.test(value))) {
    return 'Enter one email address, like name@example.com.';
  }
  const { range } = spec;
  if (range) {
    const number = Number(value);
    if (!Number.isInteger(number) || number < range.min || number > range.max) {
      return `${upperFirst(spec.what)} must be a whole number of ${range.unit} from ${formatNumber(range.min)} to ${formatNumber(range.max)}.`;
    }
  }
  return undefined;
}

export function checkFields(
  specs: readonly FieldSpec[],
  values: Readonly<Record<string, string>>,
): FieldErrors {
  const errors: Record<string, string> = {};
  for (const spec of specs) {
    const problem = checkField(spec, values[spec.name] ?? '');
    if (problem) errors[spec.name] = problem;
  }
  return errors;
}

/**
 * The field a refusal is about: an invalid argument (400) or a conflict (409,
 * `an account with this email already exists`) whose detail names one of `specs`,
 * as `max_weight` or `max weight`. Longer names are tried first, so `name` does not
 * claim what `customer_id` or `vessel name` says.
 */
export function serverFieldErrors(
  error: unknown,
  specs: readonly FieldSpec[],
  locate?: (detail: string) => string | undefined,
): FieldErrors {
  if (!(error instanceof GatewayError) || (error.status !== 400 && error.status !== 409)) return {};
  const located = locate?.(error.message);
  if (located && specs.some(({ name }) => name === located)) return { [located]: sentence(error.message) };
  const detail = error.message.toLowerCase();
  const byLength = [...specs].sort((a, b) => b.name.length - a.name.length);
  const named = byLength.find(({ name }) =>
    [name, name.replaceAll('_', ' ')].some((form) => new RegExp(`(^|[^\\w])${form}($|[^\\w])`).test(detail)),
  );
  return named ? { [named.name]: sentence(error.message) } : {};
}
