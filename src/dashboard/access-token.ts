/**
 * The dashboard's token, as Aspire's: random per run, printed in the URL of the
 * ready summary (`/?t=<token>`). A browser that opens that URL gets it as an
 * HttpOnly, SameSite=Strict cookie and is sent on to the same page without it (so
 * the token is not left in the address bar or the history); scripts and the
 * services' OTLP exporters send `Authorization: Bearer <token>`. Nothing else gets in.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const cookieName = 'berth_dashboard';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

function same(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === cookieName) return value.join('=');
  }
  return undefined;
}

export type Access =
  /** Let in. */
  | { readonly kind: 'allowed' }
  /** The token came in the query and was right: set the cookie, send the browser to `location`. */
  | { readonly kind: 'login'; readonly location: string; readonly cookie: string }
  | { readonly kind: 'denied' };

export function checkAccess(req: IncomingMessage, url: URL, token: string): Access {
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (same(bearer, token) || same(cookieToken(req), token)) return { kind: 'allowed' };
  const query = url.searchParams.get('t');
  if (query !== null && same(query, token) && req.method === 'GET') {
    url.searchParams.delete('t');
    return {
      kind: 'login',
      location: `${url.pathname}${url.search}`,
      cookie: `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`,
    };
  }
  return { kind: 'denied' };
}
