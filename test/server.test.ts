import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { Store } from '../src/db/store.js';
import { createLogger } from '../src/logger.js';
import { startParley } from '../src/parley.js';
import { buildServer } from '../src/server.js';
import { serverDeps } from './helpers/app.js';
import { collect, spawnTs, waitForOutput } from './helpers/processes.js';
import {
  createTestDatabase,
  dropTestDatabase,
  openTestStore,
  TEST_DATABASE_URL,
} from './helpers/store.js';

const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent' });
const logger = createLogger('silent');

let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store?.close());

describe('health', () => {
  it('answers /healthz and /readyz, and /readyz says 503 when the database is gone', async () => {
    const app = await buildServer(serverDeps({ ...store, close: async () => {} }, config));
    const health = await app.inject('/healthz');
    expect(health.statusCode).toBe(200);
    expect(health.headers['x-request-id']).toBeTruthy();
    const ready = await app.inject('/readyz');
    expect(ready.json()).toEqual({
      status: 'ready',
      store: store.kind,
      eventLog: { unnumbered: 0, oldestMs: 0 },
    });

    const broken = await buildServer(
      serverDeps({ ...store, ping: () => Promise.reject(new Error('down')) }, config),
    );
    const notReady = await broken.inject('/readyz');
    expect(notReady.statusCode).toBe(503);
    await app.close();
    await broken.close();
  });

  it('documents its routes in an OpenAPI document', async () => {
    const app = await buildServer(serverDeps(store, config));
    const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz']));
    await app.close();
  });

  it('turns an unknown error into a 500 with a request id and no details', async () => {
    const app = await buildServer(serverDeps(store, config));
    app.get('/boom', async () => {
      throw new Error('secret internals');
    });
    const response = await app.inject('/boom');
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('secret internals');
    expect(response.json().requestId).toBe(response.headers['x-request-id']);
    await app.close();
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests and refuses new connections', async () => {
    const app = await buildServer(serverDeps(store, config));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => {
      entered = resolve;
    });
    app.get('/slow', async () => {
      entered();
      await gate;
      return { done: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };

    const inFlight = fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.json());
    await inHandler;
    const closed = app.close();
    // A new connection is refused while the old request is still being answered.
    const refused = new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/healthz' });
      req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      req.on('response', () => resolve('answered'));
      req.end();
    });
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await refused);
    release();
    expect(await inFlight).toEqual({ done: true });
    await closed;
  });

  it('closes a keep-alive connection whose streamed answer ends after shutdown began', async () => {
    const app = await buildServer(serverDeps(store, config));
    const body = new PassThrough();
    app.get('/stream', async (_request, reply) => reply.type('text/plain').send(body));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    body.write('first, ');
    // The headers are out (a media file being sent, say) when shutdown begins, and the
    // answer ends only after the server has closed the connections idle at that moment.
    const response = await fetch(`http://127.0.0.1:${port}/stream`);
    const server = app.server;
    const closeIdle = server.closeIdleConnections.bind(server);
    const idleClosed = new Promise<void>((resolve) => {
      server.closeIdleConnections = () => {
        closeIdle();
        resolve();
      };
    });
    const closed = app.close();
    await idleClosed;
    body.end('then the rest');
    expect(await response.text()).toBe('first, then the rest');
    // Without closing it once idle, the connection would hold close() for keepAliveTimeout.
    await closed;
  }, 10_000);

  it('says what a shutdown still waits for: the HTTP server first, nothing once closed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-closing-'));
    const parley = await startParley(
      loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DATA_DIR: dataDir }),
      logger,
    );
    expect(parley.closingWaitsFor()).toEqual([]);
    const closed = parley.close();
    expect(parley.closingWaitsFor()).toEqual(['http server']);
    await closed;
    expect(parley.closingWaitsFor()).toEqual([]);
  });

  it('exits 0 on SIGTERM and releases the data directory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-shutdown-'));
    const child = spawnTs('src/cli.ts', ['start'], { DATA_DIR: dataDir, PORT: '0' });
    const finished = collect(child);
    const [, url] = await waitForOutput(child, /API and health: +(\S+)\/healthz/);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    child.kill('SIGTERM');
    const result = await finished;
    expect(result.code).toBe(0);
    // The store was closed cleanly: another process can open it at once.
    const again = spawnTs('src/cli.ts', ['migrate'], { DATA_DIR: dataDir });
    expect((await collect(again)).code).toBe(0);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('two instances on one PostgreSQL', () => {
  it('migrate concurrently and both serve', async () => {
    const databaseUrl = await createTestDatabase();
    const shared = loadConfig({
      PORT: '0',
      DATABASE_URL: databaseUrl,
      APP_SECRET: 'c'.repeat(64),
      LOG_LEVEL: 'silent',
    });
    const [a, b] = await Promise.all([startParley(shared, logger), startParley(shared, logger)]);
    try {
      for (const instance of [a, b]) {
        const response = await fetch(`${instance.url}/readyz`);
        expect(await response.json()).toMatchObject({ status: 'ready', store: 'postgres' });
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropTestDatabase(databaseUrl);
    }
  });
});
