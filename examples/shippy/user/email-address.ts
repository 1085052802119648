/**
 * Strict email parsing: exactly one plain RFC 5322 addr-spec in its common form,
 * `local@domain`, where local is a dot-atom and domain a DNS name with at least
 * one dot. Everything a mail library would read as a list or a display name
 * (`a,b@x.com`, `"A" <a@x.com>`) is refused, as are quoted local parts, comments,
 * address literals and non-ASCII addresses: the address is stored and mailed as
 * typed, so it must mean one mailbox to every program that reads it. Surrounding
 * whitespace is trimmed, as for every field; the address is lowercased so one
 * mailbox is one account.
 */

export const maxEmailLength = 254;
/** RFC 5321's limit on the part before the @. */
const maxLocalLength = 64;

const atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const dotAtom = new RegExp(`^${atext}(\\.${atext})*$`);
const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const example = 'such as name@example.com';

export type ParsedEmail = { readonly address: string } | { readonly problem: string };

/** The normalized address, or what is wrong with it as a sentence starting with "email". */
export function parseEmail(input: string): ParsedEmail {
  const email = input.trim();
  if (email === '') return { problem: `email is required: one address ${example}` };
  if (email.length > maxEmailLength) {
    return { problem: `email must be at most ${maxEmailLength} characters (got ${email.length})` };
  }
  if (/[,;]/.test(email)) {
    return { problem: `email must be one address ${example}: found a comma or semicolon` };
  }
  if (/[<>"()]/.test(email)) {
    return {
      problem: `email must be a plain address ${example}, without a display name, quotes or brackets`,
    };
  }
  if (/\s/.test(email)) {
    return { problem: `email must not contain spaces or line breaks: one address ${example}` };
  }
  const parts = email.split('@');
  if (parts.length !== 2) return { problem: `email must contain exactly one @, as in name@example.com` };
  const [local, domain] = parts;
  if (local === '' || local.length > maxLocalLength || !dotAtom.test(local)) {
    return {
      problem: `email: the part before the @ must be 1–${maxLocalLength} letters, digits or !#$%&'*+-/=?^_\`{|}~, with single dots between them`,
    };
  }
  const labels = domain.split('.');
  if (
    labels.length < 2 ||
    !labels.every((label) => dnsLabel.test(label)) ||
    /^[0-9]+$/.test(labels[labels.length - 1])
  ) {
    return { problem: `email: the part after the @ must be a domain name such as example.com` };
  }
  return { address: email.toLowerCase() };
}
