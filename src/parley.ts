import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { loadOrCreateAppSecret, SecretBox } from './admin/secret-box.js';
import type { Config } from './config.js';
import { openStore, type Store } from './db/store.js';
import { buildServer } from './server.js';

/** A background loop (timers, dispatchers) that the process starts after listening. */
export interface Worker {
  readonly name: string;
  /** Finishes the current unit of work and stops claiming more. */
  stop(): Promise<void>;
}

export interface RunningParley {
  readonly url: string;
  readonly store: Store;
  readonly server: FastifyInstance;
  readonly secretBox: SecretBox;
  /** Stops accepting, finishes in-flight requests, stops the workers, then closes the store. */
  close(): Promise<void>;
}

/** Opens the store, applies migrations and starts listening. */
export async function startParley(config: Config, logger: Logger): Promise<RunningParley> {
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : config.dataDir,
    onError: (error) => logger.warn({ err: error }, 'database connection lost'),
  });
  try {
    const secretBox = new SecretBox(config.appSecret ?? loadOrCreateAppSecret(config.dataDir));
    await store.migrate();
    const server = await buildServer({ config, store, logger });
    await server.listen({ port: config.port, host: config.host });
    const address = server.server.address();
    const url =
      address && typeof address === 'object'
        ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
        : config.publicUrl;
    const workers: Worker[] = [];
    logger.info({ url, publicUrl: config.publicUrl, store: store.kind }, 'Parley is listening');
    let closing: Promise<void> | undefined;
    return {
      url,
      store,
      server,
      secretBox,
      close: () => {
        closing ??= (async () => {
          try {
            await server.close();
            await Promise.all(workers.map((worker) => worker.stop()));
          } finally {
            await store.close();
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
