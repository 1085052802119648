/**
 * The address bar is the page: routes are paths (`/vessels`) kept with the history
 * API, so back and forward move between pages and a reload or a shared link opens
 * the same one. The gateway answers every unknown GET with index.html (sirv's
 * `single` mode), and none of the UI's paths is one of the gateway's own (`/rpc`,
 * `/readyz`, `/_berth/…`, `/<package>.<Service>/<Method>`).
 */
import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react';

const changed = 'shippy:navigate';

function subscribe(onChange: () => void): () => void {
  addEventListener('popstate', onChange);
  addEventListener(changed, onChange);
  return () => {
    removeEventListener('popstate', onChange);
    removeEventListener(changed, onChange);
  };
}

/** Links of the hash-routed UI (`/#/vessels`) still open their page. */
function legacyHashPath(): string | undefined {
  return location.hash.startsWith('#/') ? location.hash.slice(1) : undefined;
}

/** The current path, re-rendering on every navigation. */
export function usePath(): string {
  return useSyncExternalStore(subscribe, () => legacyHashPath() ?? location.pathname);
}

/** Goes to `path`: a new history entry, or (`replace`) instead of the current one, as a redirect does. */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location.pathname && location.hash === '') return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  dispatchEvent(new Event(changed));
}

interface LinkProps extends AnchorHTMLAttributes<HTMLAnchorElement> {
  readonly to: string;
}

/** An anchor to one of the UI's pages; a plain click navigates in the page, a modified one opens a tab. */
export function Link({ to, onClick, ...anchor }: LinkProps) {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || event.button !== 0;
    if (event.defaultPrevented || modified) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={follow} {...anchor} />;
}
