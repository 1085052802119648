/**
 * The shell: the session, the routes (paths kept with the history API, router.tsx)
 * and the header. Pages get `call`, which adds the session's token and, when a
 * service answers 401, ends the session and sends the user to the login page with
 * a note. A page change moves focus to the new page's heading, so keyboard and
 * screen-reader users hear where they are.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError, GatewayError, rpc } from './api.ts';
import { ConsignmentsPage } from './pages/consignments.tsx';
import { LoginPage } from './pages/login.tsx';
import { NotFoundPage } from './pages/not-found.tsx';
import { RegisterPage } from './pages/register.tsx';
import { SystemPage } from './pages/system.tsx';
import { VesselsPage } from './pages/vessels.tsx';
import { Link, navigate, usePath } from './router.tsx';
import { isExpired, loadSession, onSessionChangedElsewhere, type Session, saveSession } from './session.ts';

export type Call = <T>(service: string, method: string, request: object) => Promise<T>;

const expiredNote = 'Your session has expired. Please log in again.';

const pages = {
  '/login': 'Log in',
  '/register': 'Register',
  '/consignments': 'Consignments',
  '/vessels': 'Vessels',
  '/system': 'System',
} as const;
type Route = keyof typeof pages;
const signedInOnly: readonly Route[] = ['/consignments', '/vessels', '/system'];
const notFound = 'not found';

/** The page for `path` given the session: a redirect where it makes no sense, `not found` where none exists. */
function resolve(path: string, signedIn: boolean): Route | typeof notFound {
  const normalized = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (normalized === '/') return signedIn ? '/consignments' : '/login';
  if (!(normalized in pages)) return notFound;
  const route = normalized as Route;
  if (!signedIn && signedInOnly.includes(route)) return '/login';
  if (signedIn && (route === '/login' || route === '/register')) return '/consignments';
  return route;
}

function initialSession(): { session: Session | undefined; note: string | undefined } {
  const session = loadSession();
  if (session && isExpired(session.token)) {
    saveSession(undefined);
    return { session: undefined, note: expiredNote };
  }
  return { session, note: undefined };
}

export function App() {
  const [{ session, note }, setState] = useState(initialSession);
  const [loggingOut, setLoggingOut] = useState(false);
  const path = usePath();

  // Another tab logged out (or in): this one follows.
  useEffect(
    () =>
      onSessionChangedElsewhere((next) =>
        setState(
          next
            ? { session: next, note: undefined }
            : { session: undefined, note: 'You have logged out in another tab.' },
        ),
      ),
    [],
  );

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setState({ session: next, note: undefined });
    navigate('/consignments');
  }, []);

  const endSession = useCallback((reason: string) => {
    saveSession(undefined);
    setState({ session: undefined, note: reason });
    navigate('/login');
  }, []);

  /** Revokes the token at the user service, then forgets it here and (through storage) in every tab. */
  const logOut = async () => {
    if (!session || loggingOut) return;
    setLoggingOut(true);
    let reason = 'You have logged out.';
    try {
      await rpc('user', 'UserService.Logout', { token: session.token }, session.token);
    } catch (error) {
      // 401: the token was no longer valid anyway. Anything else: it may stay valid until it expires.
      if (!(error instanceof GatewayError && error.status === 401)) {
        reason = `You have logged out on this device, but shippy could not end the session: ${describeError(error)}`;
      }
    } finally {
      setLoggingOut(false);
    }
    endSession(reason);
  };

  const call = useCallback<Call>(
    async <T,>(service: string, method: string, request: object) => {
      try {
        return await rpc<T>(service, method, request, session?.token);
      } catch (error) {
        if (error instanceof GatewayError && error.status === 401) endSession(expiredNote);
        throw error;
      }
    },
    [session, endSession],
  );

  const route = resolve(path, session !== undefined);

  // The address bar shows the page shown: a redirect replaces the entry it came from.
  useEffect(() => {
    if (route !== notFound && (route !== location.pathname || location.hash.startsWith('#/'))) {
      navigate(route, { replace: true });
    }
  }, [route]);

  useEffect(() => {
    document.title = `${route === notFound ? 'Page not found' : pages[route]} · shippy`;
  }, [route]);

  // A page change (not the first page) moves focus to its heading, which is read out.
  const shown = useRef<string>(undefined);
  useEffect(() => {
    if (shown.current !== undefined && shown.current !== route) {
      document.querySelector<HTMLElement>('main h1')?.focus();
    }
    shown.current = route;
  }, [route]);

  const links: Route[] = session ? ['/consignments', '/vessels', '/system'] : ['/login', '/register'];

  return (
    <>
      <header className="top">
        <div className="bar">
          <Link className="brand" to={session ? '/consignments' : '/login'}>
            shippy
          </Link>
          {session && (
            <div className="who">
              <span>
                Signed in as <strong>{session.name || session.email}</strong>
              </span>
              <button
                type="button"
                className="link"
                aria-disabled={loggingOut || undefined}
                onClick={() => void logOut()}
              >
                {loggingOut ? 'Logging out…' : 'Log out'}
              </button>
            </div>
          )}
        </div>
        <nav aria-label="Main">
          {links.map((link) => (
            <Link key={link} to={link} aria-current={link === route ? 'page' : undefined}>
              {pages[link]}
            </Link>
          ))}
        </nav>
      </header>
      <main>
        {route === '/login' && <LoginPage note={note} onSignIn={signIn} />}
        {route === '/register' && <RegisterPage onSignIn={signIn} />}
        {route === '/consignments' && session && <ConsignmentsPage call={call} session={session} />}
        {route === '/vessels' && session && <VesselsPage call={call} />}
        {route === '/system' && session && <SystemPage />}
        {route === notFound && <NotFoundPage path={path} signedIn={session !== undefined} />}
      </main>
    </>
  );
}
