import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createSession } from '../../src/auth/sessions.js';
import { createUser, type Role, type UserView } from '../../src/auth/users.js';
import { TwilioClients } from '../../src/channels/twilio/clients.js';
import { type Config, loadConfig } from '../../src/config.js';
import { ConfigCache } from '../../src/db/config-cache.js';
import type { Store } from '../../src/db/store.js';
import { createLogger } from '../../src/logger.js';
import { FileMediaStore } from '../../src/media/file-media-store.js';
import { SecretBox } from '../../src/secret-box.js';
import { buildServer, type ServerDeps } from '../../src/server.js';
import { hex } from './factories.js';
import { openTestStore } from './store.js';

export interface TestApp {
  app: FastifyInstance;
  /** databaseUrl: the PostgreSQL test database, for a second instance on it. */
  store: Store & { databaseUrl?: string };
  config: Config;
  secretBox: SecretBox;
  close(): Promise<void>;
}

/** What buildServer needs, for a store and config, with workers' wake-ups left idle. */
export function serverDeps(store: Store, config: Config): ServerDeps {
  const secretBox = new SecretBox('t'.repeat(64));
  const configCache = new ConfigCache();
  return {
    config,
    store,
    logger: createLogger(config.logLevel),
    secretBox,
    mediaStore: new FileMediaStore(join(mkdtempSync(join(tmpdir(), 'parley-media-')), 'media')),
    clients: new TwilioClients(store.db, secretBox, config.twilioApiUrl, configCache),
    configCache,
    kicks: { flowDue: () => {}, mediaDue: () => {}, queued: () => {} },
  };
}

/** A server on a fresh test store, driven with `app.inject` (no port needed). */
export async function buildTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const store = await openTestStore();
  const config = loadConfig({ LOG_LEVEL: 'silent', PUBLIC_URL: 'https://parley.test', ...env });
  const deps = serverDeps(store, config);
  const secretBox = deps.secretBox;
  const app = await buildServer(deps);
  await app.ready();
  return {
    app,
    store,
    config,
    secretBox,
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}

export interface SignedIn {
  user: UserView;
  headers: { authorization: string };
}

/** Creates a user of the role and returns the headers of a signed-in API token. */
export async function signIn(
  store: Store,
  role: Role,
  name = `${role}-${hex(3)}`,
): Promise<SignedIn> {
  const user = await createUser(store.db, {
    email: `${name}@example.com`,
    name,
    role,
    password: 'correct horse battery',
  });
  const { token } = await createSession(store.db, user.id, 'api-token', { ttlMs: null });
  return { user, headers: { authorization: `Bearer ${token}` } };
}
