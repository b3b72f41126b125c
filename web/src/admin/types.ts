/**
 * The rows the admin API answers with, as the server documents them (api-types.ts,
 * generated), and the choices its forms offer.
 */
import type { Schemas } from '../api';

export type Account = Schemas['Account'];
export type NumberRow = Schemas['Number'];
export type NumberKind = NumberRow['kind'];
export const NUMBER_KINDS = [
  'long-code',
  'toll-free',
  'short-code',
  'whatsapp',
  'messenger',
] as const satisfies readonly NumberKind[];

/** What POST /api/admin/numbers/:id/configure-twilio answers. */
export type TwilioConfigured = Schemas['TwilioConfiguration'];
export type TwilioWebhooks = Schemas['TwilioWebhooks'];

export type FlowRow = Schemas['FlowSummary'];
/** GET /api/admin/flows/:id adds the schedule to the row. */
export type Flow = Schemas['Flow'];
export type OpeningInterval = Flow['hours'][number];
export type Holiday = Flow['holidays'][number];

export type QueueRow = Schemas['QueueSummary'];
/** GET /api/admin/queues/:id adds the members; the list does not. */
export type Queue = Schemas['Queue'];
export type Strategy = QueueRow['strategy'];
/** One of a queue's wrap-up codes. */
export type Disposition = Schemas['Disposition'];
export const STRATEGIES = [
  'longest-idle',
  'round-robin',
  'least-busy',
] as const satisfies readonly Strategy[];

/** { skillName: level 0..10 } */
export type Skills = Record<string, number>;

export type Agent = Schemas['Agent'];
export type Role = Agent['role'];
export const ROLES = ['agent', 'supervisor', 'admin'] as const satisfies readonly Role[];

export type QuickReply = Schemas['QuickReply'];

/** A synced content template, with WhatsApp's verdict on it. */
export type AdminContentTemplate = Schemas['AdminContentTemplate'];
/** What POST /api/admin/accounts/:id/content-templates/sync answers. */
export type TemplateSync = Schemas['ContentTemplateSync'];

/** An origination task template: a text with {{placeholders}}, its number and strategy. */
export type OriginationTemplate = Schemas['OriginationTemplate'];
