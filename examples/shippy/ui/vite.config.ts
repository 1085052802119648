/**
 * Builds the shippy web UI into `dist/`, which the gateway serves at `/`
 * (berth.yaml `gateway.static: ui/dist`). `npm run build:ui` from the repository root.
 *
 * In development (`vite examples/shippy/ui`) the UI's own calls are proxied to a
 * gateway started by `npm start`, so pages still reach it on the same origin.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const gateway = process.env['SHIPPY_GATEWAY'] ?? 'http://127.0.0.1:8080';

/**
 * Writes `<file>.br` and `<file>.gz` next to each text file of the build, which
 * the gateway sends as they are to clients that accept them (src/gateway/
 * static-files.ts): compressed once, at the highest levels, instead of per request.
 * Files under ~1 kB gain less than a response's headers and are left alone.
 */
function precompress(): Plugin {
  const compressible = /\.(?:js|mjs|css|html|svg|json|txt)$/;
  const brotli = promisify(brotliCompress);
  const gzipAsync = promisify(gzip);
  return {
    name: 'precompress',
    apply: 'build',
    async writeBundle({ dir }) {
      if (dir === undefined) return;
      const files = (await readdir(dir, { recursive: true })).filter((name) => compressible.test(name));
      await Promise.all(
        files.map(async (name) => {
          const path = join(dir, name);
          const content = await readFile(path);
          if (content.length < 1024) return;
          const [br, gz] = await Promise.all([
            brotli(content, {
              params: {
                [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
                [constants.BROTLI_PARAM_SIZE_HINT]: content.length,
              },
            }),
            gzipAsync(content, { level: constants.Z_BEST_COMPRESSION }),
          ]);
          if (br.length < content.length) await writeFile(`${path}.br`, br);
          if (gz.length < content.length) await writeFile(`${path}.gz`, gz);
        }),
      );
    },
  };
}

export default defineConfig({
  plugins: [react(), precompress()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: {
    proxy: Object.fromEntries(['/rpc', '/readyz', '/_berth'].map((path) => [path, gateway])),
  },
});
