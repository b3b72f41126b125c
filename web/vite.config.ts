import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** Where `npm run dev:web` sends API calls: a Parley started with `npm run dev`. */
const parley = process.env.PARLEY_URL ?? 'http://127.0.0.1:3000';

/** The web app (desk, supervisor, admin), built into dist/web and served by Parley. */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: {
      '/api': { target: parley, ws: true },
      '/media': parley,
    },
  },
});
