import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The console is served by the hub at /console/; `npm run build` writes it beside the API in dist/console
// (HOOKHUB_CONSOLE_OUT_DIR builds it elsewhere, as the tests do).
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  // React's automatic JSX runtime, compiled by Vite's own transformer (no plugin needed for a production build).
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: process.env.HOOKHUB_CONSOLE_OUT_DIR ?? resolve(import.meta.dirname, '../../dist/console'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
  },
  // During `vite` (development), the API runs on its own port.
  server: { proxy: { '/api': 'http://127.0.0.1:3000' } },
});
