import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin, type ProxyOptions } from 'vite';

/** Where `npm run dev:web` sends API calls: a Parley started with `npm run dev`. */
const parley = process.env.PARLEY_URL ?? 'http://127.0.0.1:3000';
/** The origin that Parley admits cookie-authenticated requests from: its PUBLIC_URL's. */
const parleyOrigin = new URL(process.env.PUBLIC_URL ?? parley).origin;
const outDir = join(import.meta.dirname, '../dist/web');

/**
 * Writes a .br and a .gz beside each built script, style sheet and page, once at build
 * time; Parley serves them to browsers that accept them (the desk's bundle is ~1 MB).
 */
function precompress(): Plugin {
  return {
    name: 'parley-precompress',
    apply: 'build',
    closeBundle() {
      const files = readdirSync(outDir, { recursive: true, encoding: 'utf8' });
      for (const file of files.filter((name) => /\.(js|css|html|svg)$/.test(name))) {
        const path = join(outDir, file);
        const bytes = readFileSync(path);
        writeFileSync(
          `${path}.br`,
          brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
        writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
      }
    },
  };
}

/**
 * Parley refuses a state-changing request or a WebSocket signed in by cookie unless it comes
 * from Parley's origin. Pages of this dev server are Parley's pages, so their Origin is
 * presented as Parley's; any other page's Origin is passed on as it came, to be refused.
 */
function presentParleyOrigin(proxyReq: ClientRequest, req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin && URL.canParse(origin) && new URL(origin).host === req.headers.host) {
    proxyReq.setHeader('origin', parleyOrigin);
  }
}

const toParley: ProxyOptions = {
  target: parley,
  ws: true,
  configure: (proxy) => {
    proxy.on('proxyReq', presentParleyOrigin);
    proxy.on('proxyReqWs', presentParleyOrigin);
  },
};

/** The web app (desk, supervisor, admin), built into dist/web and served by Parley. */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), precompress()],
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: {
      '/api': toParley,
      '/media': parley,
    },
  },
});
