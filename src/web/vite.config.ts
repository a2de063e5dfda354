import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The browser app: built into dist/web, which `lumina serve` hands out (hashed assets immutable).
// Everything it needs is bundled: nothing is fetched from a CDN at build or run time.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [
    svelte({
      onwarn(warning, handler) {
        // Pages are re-created ({#key}) when their catalog changes, so reading a prop once is right.
        if (warning.code === 'state_referenced_locally') return;
        handler?.(warning);
      },
    }),
  ],
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1000,
  },
  logLevel: 'warn',
});
