import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// `npm run build` runs `vite build client`; the page is served under /waiting-room/, with
// `config.json` next to it. Dev: `npx vite client` proxies /ws to a local server (`npm start`).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/waiting-room/',
  plugins: [svelte({ configFile: false })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The polyfill is for browsers without module preload; it is not worth an extra request.
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      '/ws': { target: 'ws://localhost:8080', ws: true },
      '/waiting-room/config.json': { target: 'http://localhost:8080' },
    },
  },
});
