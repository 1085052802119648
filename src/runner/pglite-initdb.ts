/**
 * Entry of the short-lived process in which the embedded Postgres (pglite-server.ts)
 * runs initdb, once per machine and PGlite version, to make the template that new data
 * folders are copied from. initdb leaves a process at ~550 MB RSS, ~280 MB of it still
 * held after PGlite is closed and reopened; here all of it goes back when the process
 * exits, and the server opens the copy at ~150 MB.
 *
 *   BERTH_PGLITE_DIR  the folder to initialise (missing or empty); owner-only when done
 *
 * Exits 0 once the folder holds a cleanly closed database, 1 otherwise.
 */
import { PGlite } from '@electric-sql/pglite';
import { makePrivateDir, makeTreePrivate } from './private-files.ts';

process.umask(0o077);
const dir = process.env.BERTH_PGLITE_DIR;
if (!dir) {
  process.stderr.write('pglite-initdb: BERTH_PGLITE_DIR is not set: the folder to initialise\n');
  process.exit(1);
}
makePrivateDir(dir);
const db = new PGlite(dir);
await db.waitReady;
await db.close();
// initdb writes 0666 files whatever the umask.
makeTreePrivate(dir);
