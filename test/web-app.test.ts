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

const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"></svg>';

/** A response's Content-Security-Policy as directive → sources. */
function policyOf(header: string | string[] | number | undefined): Map<string, string[]> {
  return new Map(
    String(header ?? '')
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, ...sources]) => [name!, sources]),
  );
}

/** A stand-in for dist/web: the server's part is to serve whatever `vite build` wrote. */
function builtWebApp(): string {
  const root = mkdtempSync(join(tmpdir(), 'parley-web-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><div id="root"></div>');
  writeFileSync(join(root, 'favicon.svg'), FAVICON);
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
  const config = loadConfig({ LOG_LEVEL: 'silent', PUBLIC_URL: 'https://parley.example.com' });
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
    '/search',
    '/reports',
    '/wallboard',
    '/contacts/5b0f4c1e-9a57-4a49-9d59-0c4f3c0f8a11',
  ])('answers %s with the app, never cached', async (url) => {
    const response = await app.inject({ url });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.body).toContain('<div id="root">');
  });

  it('answers HEAD as GET, without a body', async () => {
    const response = await app.inject({ method: 'HEAD', url: '/desk' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.body).toBe('');
  });

  it('answers a path that is no page with a 404 and the app, which says so', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const response = await app.inject({ method, url: '/no-such-page' });
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toContain('text/html');
    }
    expect((await app.inject({ url: '/deskx' })).statusCode).toBe(404);
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

  it('allows pages only what Parley serves: no inline script, no framing, no outside host', async () => {
    const response = await app.inject({ url: '/desk' });
    const policy = policyOf(response.headers['content-security-policy']);
    expect(policy.get('default-src')).toEqual(["'self'"]);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(policy.get('connect-src')).toEqual(["'self'", 'wss://parley.example.com']);
    expect(policy.get('img-src')).toEqual(["'self'", 'data:', 'blob:']);
    expect(policy.get('font-src')).toEqual(["'self'"]);
    expect(policy.get('object-src')).toEqual(["'none'"]);
    expect(policy.get('base-uri')).toEqual(["'none'"]);
    expect(policy.get('form-action')).toEqual(["'self'"]);
    expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
  });

  it('sends nosniff and a policy that allows nothing with assets, API JSON and errors', async () => {
    for (const url of ['/assets/index-abc123.js', '/healthz', '/openapi.json', '/api/nothing']) {
      const response = await app.inject({ url });
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
      expect(response.headers['referrer-policy'], url).toBe('no-referrer');
      expect(response.headers['x-frame-options'], url).toBe('DENY');
      const policy = policyOf(response.headers['content-security-policy']);
      expect(policy.get('default-src'), url).toEqual(["'none'"]);
      expect(policy.get('frame-ancestors'), url).toEqual(["'none'"]);
    }
    const refused = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'not an email' },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.headers['x-content-type-options']).toBe('nosniff');
    expect(policyOf(refused.headers['content-security-policy']).get('default-src')).toEqual([
      "'none'",
    ]);
  });

  it('answers /favicon.ico and /favicon.svg with the icon', async () => {
    for (const url of ['/favicon.ico', '/favicon.svg']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type'], url).toContain('image/svg+xml');
      expect(response.body, url).toBe(FAVICON);
    }
  });

  it('says how to build it when it is not built', async () => {
    const response = await bare.inject({ url: '/' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('npm run build');
  });
});
