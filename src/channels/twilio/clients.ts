import { getAccountCredentials } from '../../admin/accounts.js';
import type { SecretBox } from '../../admin/secret-box.js';
import type { Executor } from '../../db/store.js';
import { createTwilioClient, type TwilioClient } from './client.js';

/** One Twilio client per account, built on first use from its decrypted credentials. */
export class TwilioClients {
  readonly #clients = new Map<string, Promise<TwilioClient>>();

  constructor(
    private readonly db: Executor,
    private readonly secretBox: SecretBox,
    readonly apiUrl: string,
  ) {}

  forAccount(accountId: string): Promise<TwilioClient> {
    let client = this.#clients.get(accountId);
    if (!client) {
      client = getAccountCredentials(this.db, this.secretBox, accountId).then((credentials) => {
        const created = createTwilioClient(credentials, this.apiUrl);
        // The library loads its API modules on first use; load them now, not inside the first
        // paced send, where the delay would shift that send off its slot.
        void created.messages;
        return created;
      });
      client.catch(() => this.#clients.delete(accountId));
      this.#clients.set(accountId, client);
    }
    return client;
  }

  /** After an account's credentials change. */
  forget(accountId: string): void {
    this.#clients.delete(accountId);
  }
}
