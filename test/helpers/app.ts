import type { FastifyInstance } from 'fastify';
import { SecretBox } from '../../src/admin/secret-box.js';
import { createSession } from '../../src/auth/sessions.js';
import { createUser, type Role, type UserView } from '../../src/auth/users.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { Store } from '../../src/db/store.js';
import { createLogger } from '../../src/logger.js';
import { buildServer } from '../../src/server.js';
import { hex } from './factories.js';
import { openTestStore } from './store.js';

export interface TestApp {
  app: FastifyInstance;
  store: Store;
  config: Config;
  secretBox: SecretBox;
  close(): Promise<void>;
}

/** A server on a fresh test store, driven with `app.inject` (no port needed). */
export async function buildTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const store = await openTestStore();
  const config = loadConfig({ LOG_LEVEL: 'silent', PUBLIC_URL: 'https://parley.test', ...env });
  const secretBox = new SecretBox('t'.repeat(64));
  const app = await buildServer({ config, store, logger: createLogger(config.logLevel) });
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
