/**
 * Configuration that every webhook reads (its number, the account's credentials, the flow)
 * kept in each instance, so that a message costs no lookups before its transaction.
 *
 * An admin change announces itself on CONFIG_CHANNEL in the transaction that makes it
 * (NOTIFY is delivered at commit, and not on rollback); every instance that hears it drops
 * everything it cached. A missed notification is bounded by the entries' short lifetime, and
 * a lost connection to the database drops everything too (the store calls back with '').
 */
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Executor, Store } from './store.js';

export const CONFIG_CHANNEL = 'parley_config';
/** How long a cached lookup is trusted without hearing of a change. */
export const CONFIG_TTL_MS = 5_000;
/** More keys than configuration could explain (unknown To values sent in a flood): start over. */
const MAX_ENTRIES = 10_000;

/** Tells every instance, when the caller's transaction commits, that configuration changed. */
export async function announceConfigChange(db: Executor): Promise<void> {
  await db.execute(sql`SELECT pg_notify(${CONFIG_CHANNEL}, '')`);
}

export class ConfigCache {
  readonly #entries = new Map<string, { value: Promise<unknown>; until: number }>();
  readonly #onClear = new Set<() => void>();

  constructor(private readonly ttlMs = CONFIG_TTL_MS) {}

  /** The cached value of `key`, or what `load` gives (a failed load is not kept). */
  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const cached = this.#entries.get(key);
    if (cached && cached.until > now) return cached.value as Promise<T>;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    const value = load();
    const entry = { value, until: now + this.ttlMs };
    this.#entries.set(key, entry);
    value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return value;
  }

  /** Forgets everything, and tells those who keep things built from it (Twilio clients). */
  clear(): void {
    this.#entries.clear();
    for (const listener of this.#onClear) listener();
  }

  onClear(listener: () => void): void {
    this.#onClear.add(listener);
  }
}

/** Clears the cache whenever any instance announces a change; resolves to a stop function. */
export async function followConfigChanges(
  store: Pick<Store, 'listen'>,
  cache: ConfigCache,
  logger: FastifyBaseLogger,
): Promise<() => Promise<void>> {
  try {
    return await store.listen(CONFIG_CHANNEL, () => cache.clear());
  } catch (error) {
    logger.error(
      { err: error, ttlMs: CONFIG_TTL_MS },
      'cannot listen for configuration changes; cached lookups expire on their own',
    );
    return async () => {};
  }
}
