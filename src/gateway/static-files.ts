/**
 * The web UI's files, as a Vite build leaves them: hashed assets under /assets/
 * (a new build gives new names, so browsers may keep them for a year) and an
 * index.html that must be revalidated every time, since it names the current
 * assets; it also answers every unknown route of the single-page app. The build
 * writes `.br` and `.gz` next to each compressible file (examples/shippy/ui/
 * vite.config.ts); sirv picks one by Accept-Encoding and adds
 * `Vary: Accept-Encoding`, so nothing is compressed per request.
 *
 * Files are looked up on disk for each request (sirv's `dev` mode) rather than
 * listed once at start: a rebuilt UI (new asset names, an index.html of another
 * length) is served as soon as it is written, under `berth run --watch` or not,
 * for the price of a few stat calls. That mode does not skip dotfiles by itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import sirv from 'sirv';

export type StaticFiles = (req: IncomingMessage, res: ServerResponse, notFound: () => void) => void;

const immutable = 'public, max-age=31536000, immutable';

/**
 * A file under /assets/ with an extension other than .html. A path without one
 * may be answered by index.html (the app's fallback, or `x` → `x.html`), which
 * must never be cached as immutable.
 */
const hashedAsset = /^\/assets\/.+\.(?!html?$)[\w]+$/;

/** A path with a segment starting with a dot (`/.env`, `/x/.git/config`), but /.well-known/: never served. */
const dotfile = /\/\.(?!well-known\/)/;

export function staticFiles(dir: string): StaticFiles {
  const serve = sirv(dir, {
    dev: true,
    single: true,
    etag: true,
    gzip: true,
    brotli: true,
    setHeaders(res, pathname) {
      res.setHeader('cache-control', hashedAsset.test(pathname) ? immutable : 'no-cache');
    },
  });
  return (req, res, notFound) => {
    let path = (req.url ?? '/').split('?')[0]!;
    try {
      path = decodeURIComponent(path);
    } catch {
      // sirv treats a malformed path as it is, and so does this check
    }
    if (dotfile.test(path)) notFound();
    else serve(req, res, notFound);
  };
}
