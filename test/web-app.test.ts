import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { Store } from '../src/db/store.js';
import { buildServer } from '../src/server.js';
import { serverDeps } from './helpers/app.js';
import { openTestStore } from './helpers/store.js';

/** A stand-in for dist/web: the server's part is to serve whatever `vite build` wrote. */
function builtWebApp(): string {
  const root = mkdtempSync(join(tmpdir(), 'parley-web-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><div id="root"></div>');
  writeFileSync(join(root, 'assets', 'index-abc123.js'), 'console.log("desk")');
  writeFileSync(
    join(root, 'assets', 'index-abc123.js.br'),
    brotliCompressSync(Buffer.from('console.log("desk")')),
  );
  return root;
}

let store: Store;
let app: FastifyInstance;
let bare: FastifyInstance;
beforeAll(async () => {
  store = await openTestStore();
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  app = await buildServer({ ...serverDeps(store, config), webRoot: builtWebApp() });
  bare = await buildServer({ ...serverDeps(store, config), webRoot: '' });
});
afterAll(async () => {
  await app?.close();
  await bare?.close();
  await store?.close();
});

describe('the web app', () => {
  it.each([
    '/',
    '/desk',
    '/desk/5b0f4c1e-9a57-4a49-9d59-0c4f3c0f8a11',
    '/supervisor',
    '/admin/numbers',
  ])('answers %s with the app, never cached', async (url) => {
    const response = await app.inject({ url });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.body).toContain('<div id="root">');
  });

  it('serves hashed assets as immutable files', async () => {
    const response = await app.inject({ url: '/assets/index-abc123.js' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('console.log("desk")');
    expect(response.headers['cache-control']).toContain('immutable');
  });

  it('sends the precompressed file to a browser that accepts brotli, the plain one otherwise', async () => {
    const compressed = await app.inject({
      url: '/assets/index-abc123.js',
      headers: { 'accept-encoding': 'gzip, deflate, br' },
    });
    expect(compressed.statusCode).toBe(200);
    expect(compressed.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(compressed.rawPayload).toString()).toBe('console.log("desk")');
    const plain = await app.inject({
      url: '/assets/index-abc123.js',
      headers: { 'accept-encoding': 'identity' },
    });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe('console.log("desk")');
  });

  it('keeps unknown API, webhook and file paths as JSON 404s, not the app', async () => {
    for (const url of ['/api/nothing-here', '/webhooks/twilio/nothing', '/assets/missing.js']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json()).toMatchObject({ error: 'not_found' });
    }
    const post = await app.inject({ method: 'POST', url: '/desk' });
    expect(post.statusCode).toBe(404);
  });

  it('says how to build it when it is not built', async () => {
    const response = await bare.inject({ url: '/' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('npm run build');
  });
});
