/**
 * Input limits every service applies the same way: required text is trimmed and
 * must not be blank, text has a length limit (counted in characters, not bytes),
 * numbers have a range. Each refusal is InvalidArgument naming the field, the
 * limit and what was given, so a client can show it next to that field.
 */
import { Code, fail } from 'berth';

const numbers = new Intl.NumberFormat('en-US');

/** 1234567 → "1,234,567". */
export function formatNumber(value: number): string {
  return numbers.format(value);
}

/** "1 container", "3 containers". */
export function quantity(value: number, noun: string): string {
  return `${formatNumber(value)} ${noun}${value === 1 ? '' : 's'}`;
}

function characters(value: string): number {
  let length = 0;
  for (const _ of value) length += 1;
  return length;
}

/** `value` trimmed; InvalidArgument when it is blank or longer than `max` characters. */
export function requiredText(field: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed === '') fail(Code.InvalidArgument, `${field} is required: it must not be empty or blank`);
  return limitedText(field, trimmed, max);
}

/** `value` as it is; InvalidArgument when longer than `max` characters. */
export function limitedText(field: string, value: string, max: number): string {
  // Bodies are at most the gateway's limit (1 MB), so counting is cheap.
  const length = characters(value);
  if (length > max) {
    fail(
      Code.InvalidArgument,
      `${field} must be at most ${formatNumber(max)} characters (got ${formatNumber(length)})`,
    );
  }
  return value;
}

/** InvalidArgument unless `min` ≤ `value` ≤ `max`; `unit` ("kg") is said with the numbers. */
export function inRange(field: string, value: number, min: number, max: number, unit = ''): number {
  if (value < min || value > max) {
    const suffix = unit ? ` ${unit}` : '';
    fail(
      Code.InvalidArgument,
      `${field} must be between ${formatNumber(min)} and ${formatNumber(max)}${suffix} (got ${formatNumber(value)})`,
    );
  }
  return value;
}
