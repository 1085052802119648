/**
 * What Create accepts, and the bounds Auth applies before any hashing. Text rules
 * are the ones every shippy service applies (configs/limits.ts: trimmed, lengths in
 * characters, InvalidArgument naming the field); the email is parsed strictly
 * (email-address.ts) and the password is taken as typed.
 */
import { Code, fail } from 'berth';
import { limitedText, requiredText } from '../configs/limits.ts';
import { parseEmail } from './email-address.ts';

export const limits = {
  name: 100,
  company: 100,
  /** The upper bound also bounds the work one argon2 hash does for a request. */
  password: { min: 8, max: 200 },
} as const;

export interface SignUp {
  readonly name: string;
  readonly company: string;
  readonly email: string;
  readonly password: string;
}

/** The trimmed name and company, and the normalized email; fails naming the first bad field. */
export function validateSignUp(input: SignUp): Omit<SignUp, 'password'> {
  const name = withoutControls('name', requiredText('name', input.name, limits.name));
  const company = withoutControls('company', limitedText('company', input.company.trim(), limits.company));
  const email = parseEmail(input.email);
  if ('problem' in email) fail(Code.InvalidArgument, email.problem);
  if (input.password.trim() === '') fail(Code.InvalidArgument, 'password is required');
  // Not "(got N)": refusals reach logs, and a password's length is a hint.
  if (!passwordWithinLimits(input.password)) {
    fail(Code.InvalidArgument, `password must be ${limits.password.min}–${limits.password.max} characters`);
  }
  return { name, company, email: email.address };
}

/** True when `password` could be one Create accepted; Auth skips the hash otherwise. */
export function passwordWithinLimits(password: string): boolean {
  // Over twice max UTF-16 units is over max characters: no need to count them.
  if (password.length > 2 * limits.password.max) return false;
  const characters = [...password].length;
  return characters >= limits.password.min && characters <= limits.password.max;
}

/** A line break in a name would end up in the welcome mail's Subject header. */
function withoutControls(field: string, text: string): string {
  if (/\p{Cc}/u.test(text)) {
    fail(Code.InvalidArgument, `${field} must not contain control characters such as line breaks`);
  }
  return text;
}
