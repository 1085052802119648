/**
 * Preloaded (`node --import`) into every service process of `berth run --watch`:
 * records each file the process loads as a module (import, dynamic import,
 * require) and keeps the list in `$BERTH_WATCH_IMPORTS_DIR/<pid>.json`, so a
 * change reloads exactly the services that loaded the changed file (watch.ts).
 *
 * Only node: built-ins here: a file this one imported would count as the
 * service's own import. Dependencies under node_modules are left out (the watch
 * never looks there). The list is written once the loading settles (100 ms
 * without a new module), atomically and owner-only.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.env.BERTH_WATCH_IMPORTS_DIR;
if (dir) {
  const file = join(dir, `${process.pid}.json`);
  const loaded = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const write = () => {
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify([...loaded]), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch {
      // The runner removed the folder (it is stopping): nobody reads the list any more.
    }
  };
  registerHooks({
    load(url, context, nextLoad) {
      if (url.startsWith('file:') && !url.includes('/node_modules/')) {
        loaded.add(fileURLToPath(url));
        clearTimeout(timer);
        timer = setTimeout(write, 100).unref();
      }
      return nextLoad(url, context);
    },
  });
}
