import { getAccountCredentials } from '../../admin/accounts.js';
import type { ConfigCache } from '../../db/config-cache.js';
import type { Executor } from '../../db/store.js';
import type { SecretBox } from '../../secret-box.js';
import { createTwilioClient, type TwilioClient } from './client.js';

/**
 * How long a client is used without hearing of a change: a rotation is announced to every
 * instance at once (ConfigCache), so this only bounds a missed announcement. Building a
 * client loads the library's API modules, which is slow enough to shift a paced send.
 */
const CLIENT_TTL_MS = 60_000;

/**
 * One Twilio client per account, built from its decrypted credentials. All are dropped when
 * any instance announces a configuration change (a credential rotation).
 */
export class TwilioClients {
  readonly #clients = new Map<string, { client: Promise<TwilioClient>; builtAt: number }>();

  constructor(
    private readonly db: Executor,
    private readonly secretBox: SecretBox,
    readonly apiUrl: string,
    config: ConfigCache,
  ) {
    config.onClear(() => this.#clients.clear());
  }

  forAccount(accountId: string): Promise<TwilioClient> {
    const cached = this.#clients.get(accountId);
    if (cached && Date.now() - cached.builtAt < CLIENT_TTL_MS) return cached.client;
    const client = getAccountCredentials(this.db, this.secretBox, accountId).then((credentials) => {
      const created = createTwilioClient(credentials, this.apiUrl);
      // The library loads its API modules on first use; load them now, not inside the first
      // paced send, where the delay would shift that send off its slot.
      void created.messages;
      return created;
    });
    const entry = { client, builtAt: Date.now() };
    client.catch(() => {
      if (this.#clients.get(accountId) === entry) this.#clients.delete(accountId);
    });
    this.#clients.set(accountId, entry);
    return client;
  }

  /** After an account's credentials change in this process. */
  forget(accountId: string): void {
    this.#clients.delete(accountId);
  }
}
