/**
 * The web UI's files, as a Vite build leaves them: hashed assets under /assets/
 * (a new build gives new names, so browsers may keep them for a year) and an
 * index.html that must be revalidated every time, since it names the current
 * assets; it also answers every unknown route of the single-page app. The build
 * writes `.br` and `.gz` next to each compressible file (examples/shippy/ui/
 * vite.config.ts); sirv picks one by Accept-Encoding and adds
 * `Vary: Accept-Encoding`, so nothing is compressed per request.
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

export function staticFiles(dir: string): StaticFiles {
  return sirv(dir, {
    single: true,
    etag: true,
    gzip: true,
    brotli: true,
    setHeaders(res, pathname) {
      res.setHeader('cache-control', hashedAsset.test(pathname) ? immutable : 'no-cache');
    },
  });
}
