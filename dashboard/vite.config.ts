import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

/**
 * The dashboard is built once (`npm run build`) into dashboard/dist, which the API serves. DASHBOARD_OUT_DIR
 * builds elsewhere (parallel work, CI caches); `npm run dev` serves it with hot reload against a running API.
 */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [svelte()],
  build: {
    outDir: process.env.DASHBOARD_OUT_DIR ?? 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Chart.js is only in the facility and board pages; the lobby screen and the phone view stay small.
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: { '/api': { target: process.env.WESPRINT_API ?? 'http://127.0.0.1:8080', ws: true } },
  },
});
