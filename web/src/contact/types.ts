/** What the contact page and the desk's contact panel read of the API (api-types.ts, generated). */
import type { Schemas } from '../api';

export type ContactRecord = Schemas['ContactRecord'];
export type ContactEdit = Schemas['ContactEditInput'];
export type ContactConversation = ContactRecord['conversations'][number];
export type ErasureReport = Schemas['ErasureReport'];
