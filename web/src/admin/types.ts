/**
 * The rows the admin API answers with, as JSON (dates are ISO strings). Mirrors
 * src/admin/*.ts and src/flows/flows.ts; keep the API's field names.
 */

export interface Account {
  id: string;
  name: string;
  accountSid: string;
  apiKeySid: string | null;
  createdAt: string;
}

export const NUMBER_KINDS = ['long-code', 'toll-free', 'short-code', 'whatsapp'] as const;
export type NumberKind = (typeof NUMBER_KINDS)[number];

export interface NumberRow {
  id: string;
  accountId: string;
  address: string;
  kind: NumberKind;
  name: string;
  twilioSid: string | null;
  messagingServiceSid: string | null;
  flowId: string | null;
  sendRate: number | null;
  effectiveSendRate: number;
  webhookUrl: string;
  statusCallbackUrl: string;
  createdAt: string;
}

/** What POST /api/admin/numbers/:id/configure-twilio answers. */
export interface TwilioConfigured {
  configured: 'number' | 'messaging-service' | 'whatsapp-sender';
  sid: string;
  webhookUrl: string;
  statusCallbackUrl: string;
}

export interface OpeningInterval {
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  opensAt: string;
  closesAt: string;
}

export interface Holiday {
  day: string;
  name: string;
}

export interface FlowRow {
  id: string;
  name: string;
  businessName: string;
  timeZone: string;
  queueId: string | null;
  initialMessage: string | null;
  outOfHoursMessage: string | null;
  outOfHoursAction: 'queue' | 'close';
  queuePositionMessage: string | null;
  finalMessage: string | null;
  helpMessage: string | null;
  botUrl: string | null;
  botRetries: number;
  botTimeoutMs: number;
  allowAttachments: boolean;
  attachmentsRefusedMessage: string | null;
  inactivityCloseMinutes: number | null;
  surveyMessage: string | null;
  affinityTtlHours: number;
  affinityBeyondCapacity: boolean;
  createdAt: string;
}

/** GET /api/admin/flows/:id adds the schedule to the row. */
export interface Flow extends FlowRow {
  hours: OpeningInterval[];
  holidays: Holiday[];
}

export const STRATEGIES = ['longest-idle', 'round-robin', 'least-busy'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** { skillName: level 0..10 } */
export type Skills = Record<string, number>;

export interface QueueRow {
  id: string;
  name: string;
  strategy: Strategy;
  priority: number;
  offerTimeoutSeconds: number;
  autoAccept: boolean;
  maxWaitSeconds: number | null;
  overflowQueueId: string | null;
  overflowMessage: string | null;
  requiredSkills: Skills;
  language: string | null;
  offlineRequeueSeconds: number | null;
  createdAt: string;
}

/** GET /api/admin/queues/:id adds the members; the list does not. */
export interface Queue extends QueueRow {
  memberIds: string[];
}

export const ROLES = ['agent', 'supervisor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Agent {
  id: string;
  email: string;
  name: string;
  role: Role;
  presence: 'available' | 'away' | 'offline';
  capacitySms: number;
  capacityWhatsapp: number;
  skills: Skills;
  languages: string[];
  disabledAt: string | null;
}

export interface QuickReply {
  id: string;
  title: string;
  body: string;
  /** null: offered in every queue. */
  queueId: string | null;
  createdAt: string;
}
