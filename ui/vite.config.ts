import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The bridge (the device core over HTTP on localhost) serves /api; in development Vite
// proxies to it. TONGHU_BRIDGE overrides the bridge's address. The bridge answers only
// its own pages: start it with `--allow-origin http://127.0.0.1:5173` for this server.
const bridge = process.env.TONGHU_BRIDGE ?? 'http://127.0.0.1:8471';

export default defineConfig({
  plugins: [svelte()],
  // Relative asset paths: the same build runs from the bridge, from Tauri's asset
  // protocol and from a file.
  base: './',
  build: {
    target: 'es2020',
    outDir: 'dist',
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: { '/api': { target: bridge, changeOrigin: false } },
  },
});
