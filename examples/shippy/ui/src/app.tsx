/**
 * The shell: the session, the routes (`#/consignments`, hash-based so any URL
 * the gateway serves index.html for works, and reloads keep the page) and the
 * header. Pages get `call`, which adds the session's token and, when a service
 * answers 401, ends the session and sends the user to the login page with a note.
 */
import { useCallback, useEffect, useState } from 'react';
import { GatewayError, rpc } from './api.ts';
import { ConsignmentsPage } from './pages/consignments.tsx';
import { LoginPage } from './pages/login.tsx';
import { RegisterPage } from './pages/register.tsx';
import { SystemPage } from './pages/system.tsx';
import { VesselsPage } from './pages/vessels.tsx';
import { isExpired, loadSession, type Session, saveSession } from './session.ts';

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
const signedInOnly: readonly Route[] = ['/consignments', '/vessels'];

function currentRoute(): Route | undefined {
  const path = location.hash.replace(/^#/, '');
  return path in pages ? (path as Route) : undefined;
}

function go(route: Route): void {
  location.hash = route;
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
  const [hashRoute, setHashRoute] = useState(currentRoute);

  useEffect(() => {
    const onHash = () => setHashRoute(currentRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setState({ session: next, note: undefined });
    go('/consignments');
  }, []);

  const signOut = useCallback((reason: string) => {
    saveSession(undefined);
    setState({ session: undefined, note: reason });
    go('/login');
  }, []);

  const call = useCallback<Call>(
    async <T,>(service: string, method: string, request: object) => {
      try {
        return await rpc<T>(service, method, request, session?.token);
      } catch (error) {
        if (error instanceof GatewayError && error.status === 401) signOut(expiredNote);
        throw error;
      }
    },
    [session, signOut],
  );

  // Signed-in pages need a session; the login and register pages make no sense with one.
  let route: Route = hashRoute ?? (session ? '/consignments' : '/login');
  if (!session && signedInOnly.includes(route)) route = '/login';
  if (session && (route === '/login' || route === '/register')) route = '/consignments';

  useEffect(() => {
    document.title = `${pages[route]} · shippy`;
  }, [route]);

  const links: Route[] = session
    ? ['/consignments', '/vessels', '/system']
    : ['/login', '/register', '/system'];

  return (
    <>
      <header className="top">
        <div className="bar">
          <a className="brand" href={session ? '#/consignments' : '#/login'}>
            shippy
          </a>
          {session && (
            <div className="who">
              <span>
                Signed in as <strong>{session.name || session.email}</strong>
              </span>
              <button type="button" className="link" onClick={() => signOut('You have logged out.')}>
                Log out
              </button>
            </div>
          )}
        </div>
        <nav aria-label="Main">
          {links.map((link) => (
            <a key={link} href={`#${link}`} aria-current={link === route ? 'page' : undefined}>
              {pages[link]}
            </a>
          ))}
        </nav>
      </header>
      <main>
        {route === '/login' && <LoginPage note={note} onSignIn={signIn} />}
        {route === '/register' && <RegisterPage onSignIn={signIn} />}
        {route === '/consignments' && session && <ConsignmentsPage call={call} session={session} />}
        {route === '/vessels' && session && <VesselsPage call={call} session={session} />}
        {route === '/system' && <SystemPage />}
      </main>
    </>
  );
}
