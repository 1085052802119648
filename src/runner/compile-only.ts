/**
 * Entry of the process `berth run` starts before its gateway and services
 * (compile-cache.ts): loads the entry files given as arguments, with everything they
 * import, and the other TypeScript files of each folder that holds one of those (what
 * a module loads later with `import()` is mostly its neighbour), without running any
 * of them. Node strips their types and compiles them once, and writes both into its
 * compile cache (NODE_COMPILE_CACHE), so the processes that start next find them
 * there and never load the TypeScript stripper.
 *
 * Nothing runs because ES modules are all loaded and linked before the first one is
 * evaluated, in the order they are imported: a wrapper that imports a module that
 * throws, then the entry, stops before anything of the entry's graph runs. A file that
 * does not load (a syntax error) is skipped: its own process reports it.
 *
 *   node [flags of the run's processes] compile-only.ts <entry.ts> ...
 */
import { readdirSync } from 'node:fs';
import { flushCompileCache, registerHooks } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const loaded = new Set<string>();
registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) loaded.add(fileURLToPath(url));
    return nextLoad(url, context);
  },
});

const stop = dataUrl('throw "compile only"');

function dataUrl(source: string): string {
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

async function compileOnly(file: string): Promise<void> {
  const wrapper = `import ${JSON.stringify(stop)}; import ${JSON.stringify(pathToFileURL(file).href)};`;
  await import(dataUrl(wrapper)).catch(() => undefined);
}

const isTypeScript = (file: string) =>
  /\.m?ts$/.test(file) && !/\.d\.m?ts$/.test(file) && !/\.(test|spec)\.m?ts$/.test(file);
const isOwnTypeScript = (file: string) => isTypeScript(file) && !file.includes('/node_modules/');

for (const entry of process.argv.slice(2)) await compileOnly(entry);
const folders = new Set([...loaded].filter(isOwnTypeScript).map((file) => dirname(file)));
for (const folder of folders) {
  for (const name of readdirSync(folder)) {
    const file = join(folder, name);
    if (isTypeScript(name) && !loaded.has(file)) await compileOnly(file);
  }
}
flushCompileCache();
