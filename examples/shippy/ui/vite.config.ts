/**
 * Builds the shippy web UI into `dist/`, which the gateway serves at `/`
 * (berth.yaml `gateway.static: ui/dist`). `npm run build:ui` from the repository root.
 *
 * In development (`vite examples/shippy/ui`) the UI's own calls are proxied to a
 * gateway started by `npm start`, so pages still reach it on the same origin.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const gateway = process.env['SHIPPY_GATEWAY'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: {
    proxy: Object.fromEntries(['/rpc', '/readyz', '/_berth'].map((path) => [path, gateway])),
  },
});
