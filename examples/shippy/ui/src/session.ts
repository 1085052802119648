/**
 * The signed-in user, kept in localStorage so a reload keeps the session. The
 * token is the user service's JWT; its payload is read (not verified: only the
 * services can do that) for the user id and the expiry, so an expired session
 * goes back to the login page before any call fails. Every tab of the UI shares
 * it: logging out (or in) in one is seen by the others through the `storage` event.
 */

export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly name: string;
  readonly email: string;
}

const storageKey = 'shippy.session';

interface Claims {
  readonly sub?: unknown;
  readonly exp?: unknown;
}

function claims(token: string): Claims {
  try {
    const payload = token.split('.')[1] ?? '';
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Claims;
  } catch {
    return {};
  }
}

/** The user id (`sub`) of a token; empty when the token carries none. */
export function tokenSubject(token: string): string {
  const { sub } = claims(token);
  return typeof sub === 'string' ? sub : '';
}

export function isExpired(token: string, nowMs = Date.now()): boolean {
  const { exp } = claims(token);
  return typeof exp === 'number' && exp * 1000 <= nowMs;
}

export function loadSession(): Session | undefined {
  try {
    const session = JSON.parse(localStorage.getItem(storageKey) ?? 'null') as Session | null;
    return session && typeof session.token === 'string' ? session : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) localStorage.setItem(storageKey, JSON.stringify(session));
  else localStorage.removeItem(storageKey);
}

/**
 * Calls `listener` with the session another tab of this origin has just saved or
 * removed. (The `storage` event fires only in the other tabs, never in the writer.)
 */
export function onSessionChangedElsewhere(listener: (session: Session | undefined) => void): () => void {
  const onStorage = (event: StorageEvent) => {
    // `key` is null when another tab cleared the whole storage.
    if (event.key === storageKey || event.key === null) listener(loadSession());
  };
  addEventListener('storage', onStorage);
  return () => removeEventListener('storage', onStorage);
}
