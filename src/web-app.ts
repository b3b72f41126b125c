/**
 * Serves the built web app (desk, supervisor, admin, …) from dist/web: its assets as files,
 * and index.html for every other GET or HEAD that is not the API, a webhook or media, so that
 * /desk, /supervisor and /admin/… load the app (404 for a path that is no page of it).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { webPageOf } from './web-pages.js';

/** Prefixes that belong to the server; an unknown path under them is a JSON 404. */
const SERVER_PATHS = [
  '/api/',
  '/webhooks/',
  '/media/',
  '/openapi.json',
  '/healthz',
  '/readyz',
  '/metrics',
];

/**
 * dist/web next to the compiled server (dist/web-app.js), or, when running from src with tsx
 * (tests, `npm run dev`), the dist/web that `npm run build` made.
 */
export function findWebRoot(): string | undefined {
  const candidates = [new URL('./web/', import.meta.url), new URL('../dist/web/', import.meta.url)];
  for (const candidate of candidates) {
    const root = fileURLToPath(candidate);
    if (existsSync(`${root}index.html`)) return root;
  }
  return undefined;
}

export async function registerWebApp(
  app: FastifyInstance,
  root: string | undefined,
): Promise<void> {
  if (!root) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply
        .status(503)
        .type('text/plain')
        .send('The web app is not built. Run `npm run build` (npm start does it), then reload.\n'),
    );
    app.setNotFoundHandler(notFound);
    return;
  }
  await app.register(fastifyStatic, {
    root,
    wildcard: false,
    cacheControl: false,
    // vite build writes .br and .gz beside each asset (web/vite.config.ts).
    preCompressed: true,
    index: 'index.html',
    // Hashed asset names change with their content; index.html must always be fresh.
    setHeaders: (response, path) => {
      response.setHeader(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  // Browsers and tools that ignore the page's <link rel="icon"> still ask for /favicon.ico;
  // SVG is what they get: every current browser shows it.
  app.get('/favicon.ico', { schema: { hide: true } }, (_request, reply) =>
    reply.sendFile('favicon.svg'),
  );
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const isPage =
      (request.method === 'GET' || request.method === 'HEAD') &&
      !SERVER_PATHS.some((prefix) => path.startsWith(prefix)) &&
      !path.includes('.');
    if (!isPage) return notFound(request, reply);
    // Any other page-like path gets the app too, which says the page does not exist; its
    // status says so to crawlers, link checkers and monitors.
    return reply
      .status(webPageOf(path) ? 200 : 404)
      .type('text/html')
      .header('cache-control', 'no-cache')
      .sendFile('index.html');
  });
}

function notFound(request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0] ?? '/';
  return reply
    .status(404)
    .send({ error: 'not_found', message: `no route ${request.method} ${path}` });
}
