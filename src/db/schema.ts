/**
 * Parley's tables, grouped by the module of DESIGN.md that owns them. The owner writes its
 * tables; others call its functions to change them. Where a row has parts owned apart, the
 * part says whose it is:
 * - users: auth writes who a user is, admin/agents.ts their routing profile (capacity,
 *   skills, languages, disabled), routing what it keeps of them (presence, load by trigger,
 *   when they last finished a conversation), the row routing locks to place work;
 * - queues: admin writes their settings, routing the round-robin cursor;
 * - messages and media: inbound writes what it receives (in its set-based statements),
 *   outbound what it sends and how it went, media/ what it downloads;
 * - content_templates: content/ alone (synced from Twilio); flows and queues name them.
 * Reads still join across groups in the read models (routing's views, transcripts).
 *
 * The product's core rules are constraints here, so no later code path and no second
 * instance can break them:
 * - one message per Twilio MessageSid (messages_twilio_sid_key);
 * - at most one open conversation per (number, customer) (conversations_one_open_per_pair);
 * - at most one pending offer per conversation (offers_one_pending_per_conversation);
 * - events are append-only (triggers in the migrations), numbered after commit in
 *   (xid, id) order (seq, by the sequencer of src/realtime/sequencer.ts).
 */
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  customType,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  smallint,
  text,
  time,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  type AutomatedMessage,
  MESSAGE_STATUSES,
  ORIGINATION_STRATEGIES,
  PRESENCES,
  SURVEY_SCALES,
} from '../events.js';

/** A content template and the values of its placeholders (which may use `{{customerName}}`…). */
/** One of a queue's wrap-up codes: `code` is stored and reported, `label` is what agents read. */
export interface DispositionCode {
  code: string;
  label: string;
}

export interface TemplateChoice {
  contentSid: string;
  variables: Record<string, string>;
}

/** A flow's automated messages by language tag, each by kind (see flows/messages.ts). */
export type MessageVariants = Record<string, Partial<Record<AutomatedMessage, string>>>;

const id = () => uuid('id').primaryKey().defaultRandom();
/** A 64-bit transaction id (PostgreSQL's xid8), read as its decimal text. */
const xid8 = customType<{ data: string }>({ dataType: () => 'xid8' });
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
/**
 * When an admin archived the row: it leaves pickers and lists, and what it did (conversations,
 * reports, transcripts) keeps its name. Null: in use.
 */
const archivedAt = () => timestamp('archived_at', { withTimezone: true });
const at = (name: string) => timestamp(name, { withTimezone: true });

// ── auth: users (agents, supervisors, admins) ────────────────────────────────────────────
export const USER_ROLES = ['admin', 'supervisor', 'agent'] as const;

export const users = pgTable(
  'users',
  {
    id: id(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    role: text('role', { enum: USER_ROLES }).notNull(),
    /** Null for a user made by single sign-on: no password can sign them in. */
    passwordHash: text('password_hash'),
    /**
     * The OpenID provider's issuer and subject this user signs in as (single sign-on); both
     * null until their first SSO sign-in links them.
     */
    oidcIssuer: text('oidc_issuer'),
    oidcSubject: text('oidc_subject'),
    /** Busy (at capacity) is derived from the load below, never stored. */
    presence: text('presence', { enum: PRESENCES }).notNull().default('offline'),
    presenceChangedAt: at('presence_changed_at').notNull().defaultNow(),
    capacitySms: smallint('capacity_sms').notNull().default(3),
    capacityWhatsapp: smallint('capacity_whatsapp').notNull().default(3),
    capacityMessenger: smallint('capacity_messenger').notNull().default(3),
    /**
     * Conversations offered to or active with this agent, per channel: their load, kept by
     * the conversations_agent_load trigger (migrations 0016, 0022) so that ranking a queue's
     * members reads a column rather than counting conversations for each of them.
     */
    loadSms: smallint('load_sms').notNull().default(0),
    loadWhatsapp: smallint('load_whatsapp').notNull().default(0),
    loadMessenger: smallint('load_messenger').notNull().default(0),
    /** { skillName: level } */
    skills: jsonb('skills').$type<Record<string, number>>().notNull().default({}),
    languages: text('languages').array().notNull().default(sql`'{}'::text[]`),
    /** For the longest-idle strategy: when this agent last finished a conversation. */
    lastConversationEndedAt: at('last_conversation_ended_at'),
    disabledAt: at('disabled_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('users_email_key').on(sql`lower(${t.email})`),
    uniqueIndex('users_oidc_key').on(t.oidcIssuer, t.oidcSubject),
    check('users_oidc_check', sql`(${t.oidcIssuer} IS NULL) = (${t.oidcSubject} IS NULL)`),
    check(
      'users_capacity_check',
      sql`${t.capacitySms} >= 0 AND ${t.capacityWhatsapp} >= 0 AND ${t.capacityMessenger} >= 0`,
    ),
  ],
);

/** Browser sessions (cookie) and API tokens (Bearer): only a hash of the token is kept. */
export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['session', 'api-token'] }).notNull(),
    /** SHA-256 of the token, hex. */
    tokenHash: text('token_hash').notNull(),
    name: text('name'),
    expiresAt: at('expires_at'),
    lastUsedAt: at('last_used_at'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('sessions_token_hash_key').on(t.tokenHash),
    index('sessions_user_idx').on(t.userId),
  ],
);

/**
 * Failed sign-ins per client address and email, in the database so that every instance
 * counts the same failures (a per-process count multiplies with the instances).
 */
export const signInFailures = pgTable('sign_in_failures', {
  /** `${ip}|${lower(email)}`. */
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  /** When the current window of failures began. */
  since: at('since').notNull(),
});

// ── admin: accounts, numbers, flows, hours ──────────────────────────────────────────────
export const accounts = pgTable(
  'accounts',
  {
    id: id(),
    name: text('name').notNull(),
    accountSid: text('account_sid').notNull(),
    /** AES-256-GCM under APP_SECRET (see secret-box.ts); never returned, never logged. */
    authTokenEnc: text('auth_token_enc').notNull(),
    apiKeySid: text('api_key_sid'),
    apiKeySecretEnc: text('api_key_secret_enc'),
    /**
     * ISO 3166 alpha-2: the country in which a number typed in national format, such as
     * (425) 230-6549, is read for this account's numbers and their customers.
     */
    defaultCountry: text('default_country').notNull().default('US'),
    /**
     * How many days the bodies and media of messages on the account's numbers (and notes on
     * their conversations) are kept before src/retention/ redacts them; null: for ever.
     */
    retentionDays: integer('retention_days'),
    createdAt: createdAt(),
    archivedAt: archivedAt(),
  },
  (t) => [
    unique('accounts_account_sid_key').on(t.accountSid),
    check(
      'accounts_retention_days_check',
      sql`${t.retentionDays} IS NULL OR ${t.retentionDays} > 0`,
    ),
    check(
      'accounts_api_key_pair_check',
      sql`(${t.apiKeySid} IS NULL) = (${t.apiKeySecretEnc} IS NULL)`,
    ),
  ],
);

export const queues = pgTable('queues', {
  id: id(),
  name: text('name').notNull(),
  strategy: text('strategy', { enum: ['longest-idle', 'round-robin', 'least-busy'] })
    .notNull()
    .default('longest-idle'),
  priority: integer('priority').notNull().default(0),
  offerTimeoutSeconds: integer('offer_timeout_seconds').notNull().default(30),
  autoAccept: boolean('auto_accept').notNull().default(false),
  maxWaitSeconds: integer('max_wait_seconds'),
  overflowQueueId: uuid('overflow_queue_id'),
  overflowMessage: text('overflow_message'),
  requiredSkills: jsonb('required_skills').$type<Record<string, number>>().notNull().default({}),
  language: text('language'),
  /** Conversations of an agent offline this long go back to the queue; null: never. */
  offlineRequeueSeconds: integer('offline_requeue_seconds').default(600),
  /** Round-robin's cursor: the agent offered last. */
  lastOfferedAgentId: uuid('last_offered_agent_id'),
  /** Content SIDs of the templates the queue's agents may pick; empty: every approved one. */
  contentSids: text('content_sids').array().notNull().default(sql`'{}'::text[]`),
  /** Wrap-up: the disposition codes agents pick from when they end a conversation. */
  dispositions: jsonb('dispositions').$type<DispositionCode[]>().notNull().default([]),
  /** Ending a conversation of this queue needs a disposition (when it has codes). */
  dispositionRequired: boolean('disposition_required').notNull().default(false),
  /**
   * The number the queue's members originate from when they name none (the desk's New
   * message, email-to-SMS); null: the first number they may originate from.
   */
  defaultSenderNumberId: uuid('default_sender_number_id').references(
    (): AnyPgColumn => numbers.id,
    {
      onDelete: 'set null',
    },
  ),
  createdAt: createdAt(),
  archivedAt: archivedAt(),
});

export const queueMembers = pgTable(
  'queue_members',
  {
    queueId: uuid('queue_id')
      .notNull()
      .references(() => queues.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /**
     * The member's place in the queue's strategy order on each channel, kept by triggers
     * from the agent's row and the queue's strategy (migrations 0019, 0022), so that routing reads
     * the first candidates from an index instead of ranking every member: null while they
     * cannot take a conversation on the channel (not available, disabled or at capacity);
     * else their load minus capacity for least-busy, 0 for the other strategies. Then
     * idleRank (when their last conversation ended, -infinity for never and for
     * round-robin), then userId.
     */
    smsRank: smallint('sms_rank'),
    whatsappRank: smallint('whatsapp_rank'),
    messengerRank: smallint('messenger_rank'),
    idleRank: timestamp('idle_rank', { withTimezone: true }).notNull().default(sql`'-infinity'`),
    /** The queue ranks by load (least-busy): every change of the agent's load re-ranks. */
    byLoad: boolean('by_load').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.queueId, t.userId] }),
    index('queue_members_user_idx').on(t.userId),
    index('queue_members_sms_rank_idx')
      .on(t.queueId, t.smsRank, t.idleRank, t.userId)
      .where(sql`${t.smsRank} IS NOT NULL`),
    index('queue_members_whatsapp_rank_idx')
      .on(t.queueId, t.whatsappRank, t.idleRank, t.userId)
      .where(sql`${t.whatsappRank} IS NOT NULL`),
    index('queue_members_messenger_rank_idx')
      .on(t.queueId, t.messengerRank, t.idleRank, t.userId)
      .where(sql`${t.messengerRank} IS NOT NULL`),
  ],
);

export const flows = pgTable('flows', {
  id: id(),
  name: text('name').notNull(),
  businessName: text('business_name').notNull().default(''),
  timeZone: text('time_zone').notNull().default('UTC'),
  queueId: uuid('queue_id').references(() => queues.id, { onDelete: 'set null' }),
  initialMessage: text('initial_message'),
  outOfHoursMessage: text('out_of_hours_message'),
  outOfHoursAction: text('out_of_hours_action', { enum: ['queue', 'close'] })
    .notNull()
    .default('queue'),
  queuePositionMessage: text('queue_position_message'),
  finalMessage: text('final_message'),
  helpMessage: text('help_message'),
  botUrl: text('bot_url'),
  botRetries: smallint('bot_retries').notNull().default(2),
  botTimeoutMs: integer('bot_timeout_ms').notNull().default(5000),
  /** Customers' attachments: refused ones are not fetched, and the customer is told. */
  allowAttachments: boolean('allow_attachments').notNull().default(true),
  /** Agents' attachments: the server refuses replies and originations that carry them. */
  allowAgentAttachments: boolean('allow_agent_attachments').notNull().default(true),
  attachmentsRefusedMessage: text('attachments_refused_message'),
  inactivityCloseMinutes: integer('inactivity_close_minutes'),
  /** The survey's question, sent after the final response when the conversation ends. */
  surveyMessage: text('survey_message'),
  /** What answers it: a score from 1 to 5, or yes / no (kept as 1 / 0). */
  surveyScale: text('survey_scale', { enum: SURVEY_SCALES }).notNull().default('score'),
  /** How long after the question the customer's reply is taken as its answer. */
  surveyWindowMinutes: integer('survey_window_minutes').notNull().default(1440),
  /** Asked once the answer is in; the reply within the hour is kept as the comment. */
  surveyCommentPrompt: text('survey_comment_prompt'),
  /** Sent once the survey is complete (after the answer, or after the comment when asked). */
  surveyThanksMessage: text('survey_thanks_message'),
  /** How long an agent's origination routes the customer's reply back to that agent. */
  affinityTtlHours: integer('affinity_ttl_hours').notNull().default(168),
  /** Offer an affinity's agent the reply even when at capacity ("keep same agent"). */
  affinityBeyondCapacity: boolean('affinity_beyond_capacity').notNull().default(false),
  /**
   * Whether a customer answering an agent's outreach gets the initial message too; off, the
   * conversation opens with the agent's text and no greeting.
   */
  greetOutreachReplies: boolean('greet_outreach_replies').notNull().default(false),
  /** The language of the messages above (BCP 47: en, es, fr-CA); routing uses queues' own. */
  language: text('language').notNull().default('en'),
  /** Per language, automated messages in that language in place of the ones above. */
  messageVariants: jsonb('message_variants').$type<MessageVariants>().notNull().default({}),
  /**
   * Per automated message (final, survey, …): the approved content template sent in its
   * place when the customer-service window of a WhatsApp conversation has closed.
   */
  windowTemplates: jsonb('window_templates')
    .$type<Partial<Record<AutomatedMessage, TemplateChoice>>>()
    .notNull()
    .default({}),
  createdAt: createdAt(),
  archivedAt: archivedAt(),
});

/** Weekly schedule: one row per opening interval; no row for a weekday means closed. */
export const flowHours = pgTable(
  'flow_hours',
  {
    id: id(),
    flowId: uuid('flow_id')
      .notNull()
      .references(() => flows.id, { onDelete: 'cascade' }),
    /** 0 = Sunday … 6 = Saturday, in the flow's time zone. */
    weekday: smallint('weekday').notNull(),
    opensAt: time('opens_at').notNull(),
    closesAt: time('closes_at').notNull(),
  },
  (t) => [
    check('flow_hours_weekday_check', sql`${t.weekday} BETWEEN 0 AND 6`),
    check('flow_hours_interval_check', sql`${t.opensAt} < ${t.closesAt}`),
  ],
);

export const flowHolidays = pgTable(
  'flow_holidays',
  {
    flowId: uuid('flow_id')
      .notNull()
      .references(() => flows.id, { onDelete: 'cascade' }),
    day: date('day').notNull(),
    name: text('name').notNull().default(''),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.day] })],
);

/** What a business number is to Twilio; each has its own rules (pace, origination, window). */
export const NUMBER_KINDS = [
  'long-code',
  'toll-free',
  'short-code',
  'whatsapp',
  'messenger',
] as const;

/** What Twilio says a number can carry (an IncomingPhoneNumber's sms and mms capabilities). */
export const NUMBER_CAPABILITIES = ['sms', 'mms'] as const;

export const numbers = pgTable(
  'numbers',
  {
    id: id(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'restrict' }),
    /** E.164 (`+15551234567`), a short code, `whatsapp:+…` or `messenger:<page id>`. */
    address: text('address').notNull(),
    kind: text('kind', { enum: NUMBER_KINDS }).notNull(),
    name: text('name').notNull().default(''),
    /** The IncomingPhoneNumber (PN…), short code (SC…) or WhatsApp sender (XE…) found on Twilio. */
    twilioSid: text('twilio_sid'),
    /**
     * What Twilio said the number can carry when it was added; null: not looked up (a
     * Messenger page, which Twilio's API does not list, or a number added before the check).
     */
    capabilities: text('capabilities', { enum: NUMBER_CAPABILITIES }).array(),
    messagingServiceSid: text('messaging_service_sid'),
    flowId: uuid('flow_id').references(() => flows.id, { onDelete: 'set null' }),
    /** Segments per second; null: the kind's default. */
    sendRate: real('send_rate'),
    /**
     * The RCS sender (`rcs:<agent id>`) of the number's Messaging Service, as "Set in Twilio"
     * last found it: Twilio tries RCS first and falls back to SMS/MMS, and the transcript
     * says which carried each message. Null: the service has none.
     */
    rcsSender: text('rcs_sender'),
    /** Whether agents may start conversations from the number at all. */
    originationAllowed: boolean('origination_allowed').notNull().default(true),
    /**
     * The roles that may start conversations from it (when allowed); null: the kind's default
     * (short codes: admins only, as a short code's campaign is approved for set messages).
     */
    originationRoles: text('origination_roles', { enum: USER_ROLES }).array(),
    /** The strategy of an origination from this number that names none. */
    defaultStrategy: text('default_strategy', { enum: ORIGINATION_STRATEGIES })
      .notNull()
      .default('on-reply'),
    createdAt: createdAt(),
    archivedAt: archivedAt(),
  },
  (t) => [
    unique('numbers_address_key').on(t.address),
    index('numbers_messaging_service_sid_idx').on(t.messagingServiceSid),
    check('numbers_send_rate_check', sql`${t.sendRate} IS NULL OR ${t.sendRate} > 0`),
  ],
);

/** Canned texts for the composer: for every agent (no queue) or for one queue's members. */
export const quickReplies = pgTable(
  'quick_replies',
  {
    id: id(),
    title: text('title').notNull(),
    body: text('body').notNull(),
    queueId: uuid('queue_id').references(() => queues.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [index('quick_replies_queue_idx').on(t.queueId)],
);

/**
 * Origination task templates: an admin's text with `{{placeholders}}`, sent from a fixed
 * number with a fixed strategy; agents and API clients fill in the values.
 */
export const originationTemplates = pgTable(
  'origination_templates',
  {
    id: id(),
    name: text('name').notNull(),
    numberId: uuid('number_id')
      .notNull()
      .references(() => numbers.id, { onDelete: 'cascade' }),
    strategy: text('strategy', { enum: ORIGINATION_STRATEGIES }).notNull(),
    body: text('body').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('origination_templates_name_key').on(sql`lower(${t.name})`)],
);

// ── content: templates synced from Twilio's Content API ─────────────────────────────────
/** An account's content template, as Twilio's Content API last told of it. */
export const contentTemplates = pgTable(
  'content_templates',
  {
    id: id(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    /** Twilio's Content SID, `HX…`. */
    sid: text('sid').notNull(),
    friendlyName: text('friendly_name').notNull(),
    language: text('language').notNull(),
    /** What the customer reads, with `{{1}}`-style placeholders: its main type's body. */
    body: text('body').notNull(),
    /** Placeholder → sample value, as defined on Twilio. */
    variables: jsonb('variables').$type<Record<string, string>>().notNull().default({}),
    /** Its content types: `twilio/text`, `twilio/media`, `twilio/quick-reply`, … */
    types: text('types').array().notNull().default(sql`'{}'::text[]`),
    /** WhatsApp's verdict: approved, pending, rejected, paused, disabled, unsubmitted, … */
    whatsappStatus: text('whatsapp_status').notNull().default('unsubmitted'),
    whatsappCategory: text('whatsapp_category'),
    rejectionReason: text('rejection_reason'),
    syncedAt: at('synced_at').notNull().defaultNow(),
  },
  (t) => [unique('content_templates_account_sid_key').on(t.accountId, t.sid)],
);

// ── consent: contacts and opt-outs per sender ───────────────────────────────────────────
/**
 * SQL over a contact's columns (unqualified, as the index has them): the text search reads
 * for it. Its expression must stay the index's, word for word, for the index to be used.
 */
export const CONTACT_SEARCH_TEXT = sql.raw(
  `coalesce(name, '') || ' ' || coalesce(attributes ->> 'profileName', '') || ' ' || coalesce(email, '')`,
);
export const contacts = pgTable(
  'contacts',
  {
    id: id(),
    /** E.164, `whatsapp:+…` or `messenger:<user id>`, as Twilio sends it in From. */
    address: text('address').notNull(),
    name: text('name'),
    email: text('email'),
    /** Agents' notes on the person (not on one conversation: those are conversation_notes). */
    notes: text('notes'),
    /** What Twilio's webhook said of it (FromCity, FromState, …) and what agents added. */
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    /**
     * When an admin erased the person (src/retention/erasure.ts): the row is then either the
     * anonymous holder of their past conversations (address `erased:<id>`) or the record of
     * their opt-outs alone (their address and consents, nothing else). Null: not erased.
     */
    erasedAt: at('erased_at'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('contacts_address_key').on(t.address),
    // Search finds contacts by the words of their name, profile name and email (src/search/).
    index('contacts_search_idx').using('gin', sql`to_tsvector('simple', ${CONTACT_SEARCH_TEXT})`),
  ],
);

/** Consent of a contact towards one sender: a number's address or a Messaging Service SID. */
export const consents = pgTable(
  'consents',
  {
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    sender: text('sender').notNull(),
    optedOut: boolean('opted_out').notNull(),
    changedAt: at('changed_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.contactId, t.sender] })],
);

// ── conversations and their messages ────────────────────────────────────────────────────
// A conversation's row is written by src/conversations/ alone: opened in conversations.ts,
// every later change (its state above all) in lifecycle.ts.
export const CONVERSATION_STATES = ['flow', 'queued', 'offered', 'active', 'closed'] as const;

export const conversations = pgTable(
  'conversations',
  {
    id: id(),
    numberId: uuid('number_id')
      .notNull()
      .references(() => numbers.id, { onDelete: 'restrict' }),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'restrict' }),
    /** Denormalised from the contact so the one-open-per-pair index needs no join. */
    customerAddress: text('customer_address').notNull(),
    state: text('state', { enum: CONVERSATION_STATES }).notNull().default('flow'),
    origin: text('origin', { enum: ['customer', 'agent'] })
      .notNull()
      .default('customer'),
    queueId: uuid('queue_id').references(() => queues.id, { onDelete: 'set null' }),
    agentId: uuid('agent_id').references(() => users.id, { onDelete: 'set null' }),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    queuedAt: at('queued_at'),
    /** Set when a message awaits the flow (bot step, hand-over); a lease while processing. */
    flowDueAt: at('flow_due_at'),
    /** The instance running the flow step now; its silence ends the lease early. */
    flowClaimedBy: uuid('flow_claimed_by'),
    lastMessageAt: at('last_message_at').notNull().defaultNow(),
    closedAt: at('closed_at'),
    closeReason: text('close_reason'),
    /** Wrap-up: the code of one of the queue's dispositions, and the agent's summary. */
    disposition: text('disposition'),
    wrapUpSummary: text('wrap_up_summary'),
    /** When retention emptied what was written in it (summary, attributes, events); null: intact. */
    redactedAt: at('redacted_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('conversations_one_open_per_pair')
      .on(t.numberId, t.customerAddress)
      .where(sql`${t.state} <> 'closed'`),
    index('conversations_agent_open_idx').on(t.agentId).where(sql`${t.state} <> 'closed'`),
    index('conversations_queue_waiting_idx')
      .on(t.queueId, t.queuedAt)
      .where(sql`${t.state} = 'queued'`),
    index('conversations_contact_idx').on(t.contactId),
    // Search by agent, and what an agent may read, newest first.
    index('conversations_agent_created_idx').on(t.agentId, t.createdAt, t.id),
    // Search and reports read conversations by when they started.
    index('conversations_created_idx').on(t.createdAt, t.id),
    index('conversations_flow_due_idx').on(t.flowDueAt).where(sql`${t.flowDueAt} IS NOT NULL`),
    // Retention's work list of closed conversations per number, oldest first; one leaves it
    // once redacted.
    index('conversations_unredacted_idx')
      .on(t.numberId, t.closedAt)
      .where(sql`${t.redactedAt} IS NULL AND ${t.closedAt} IS NOT NULL`),
    check('conversations_closed_check', sql`(${t.state} = 'closed') = (${t.closedAt} IS NOT NULL)`),
    check(
      'conversations_active_has_agent_check',
      sql`${t.state} <> 'active' OR ${t.agentId} IS NOT NULL`,
    ),
  ],
);

export const messages = pgTable(
  'messages',
  {
    id: id(),
    /** Null only for an agent's `on-reply` origination, which opens no conversation yet. */
    conversationId: uuid('conversation_id').references(() => conversations.id, {
      onDelete: 'cascade',
    }),
    numberId: uuid('number_id')
      .notNull()
      .references(() => numbers.id, { onDelete: 'restrict' }),
    direction: text('direction', { enum: ['inbound', 'outbound'] }).notNull(),
    author: text('author', { enum: ['customer', 'agent', 'flow', 'bot'] }).notNull(),
    agentId: uuid('agent_id').references(() => users.id, { onDelete: 'set null' }),
    fromAddress: text('from_address').notNull(),
    toAddress: text('to_address').notNull(),
    body: text('body').notNull().default(''),
    /** Twilio's MessageSid: the idempotency key of inbound webhooks and outbound sends. */
    twilioSid: text('twilio_sid'),
    status: text('status', { enum: MESSAGE_STATUSES }).notNull(),
    errorCode: integer('error_code'),
    errorMessage: text('error_message'),
    segments: smallint('segments'),
    /** An outbound content template (Twilio's ContentSid) and its variables; body is its text. */
    contentSid: text('content_sid'),
    contentVariables: jsonb('content_variables').$type<Record<string, string>>(),
    /** How Twilio carried an outbound message through an RCS sender: as RCS, or SMS/MMS fallback. */
    sentAs: text('sent_as', { enum: ['rcs', 'sms', 'mms'] }),
    /** When retention or an erasure emptied the body and removed the media; null: intact. */
    redactedAt: at('redacted_at'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('messages_twilio_sid_key').on(t.twilioSid),
    index('messages_conversation_idx').on(t.conversationId, t.createdAt),
    // Full-text search over message bodies; 'simple': no stemming, any language.
    index('messages_body_search_idx').using('gin', sql`to_tsvector('simple', ${t.body})`),
    // Reports read messages by time; a BRIN index costs next to nothing to keep.
    index('messages_created_brin').using('brin', t.createdAt),
    // An answered outreach finds the agent's messages sent with no conversation.
    index('messages_unattached_idx')
      .on(t.numberId, t.toAddress)
      .where(sql`${t.conversationId} IS NULL`),
    // Retention's work list per number, oldest first; a message leaves it once redacted.
    index('messages_unredacted_idx')
      .on(t.numberId, t.createdAt)
      .where(sql`${t.redactedAt} IS NULL`),
  ],
);

/**
 * Internal notes on a conversation by agents and supervisors: in the transcript, never sent.
 * Written by src/conversations/ (notes.ts).
 */
export const conversationNotes = pgTable(
  'conversation_notes',
  {
    id: id(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    authorId: uuid('author_id').references(() => users.id, { onDelete: 'set null' }),
    body: text('body').notNull(),
    /** When retention or an erasure emptied the body; null: intact. */
    redactedAt: at('redacted_at'),
    createdAt: createdAt(),
  },
  (t) => [
    index('conversation_notes_conversation_idx').on(t.conversationId, t.createdAt),
    // Retention's work list, oldest first; a note leaves it once redacted.
    index('conversation_notes_unredacted_idx').on(t.createdAt).where(sql`${t.redactedAt} IS NULL`),
  ],
);

/**
 * The survey of an ended conversation (src/flows/surveys.ts): asked when the flow's survey message
 * was queued, answered by the customer's next text while `awaitingUntil` has not passed.
 */
export const surveyResponses = pgTable(
  'survey_responses',
  {
    conversationId: uuid('conversation_id')
      .primaryKey()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    numberId: uuid('number_id')
      .notNull()
      .references(() => numbers.id, { onDelete: 'restrict' }),
    customerAddress: text('customer_address').notNull(),
    scale: text('scale', { enum: SURVEY_SCALES }).notNull(),
    askedAt: at('asked_at').notNull().defaultNow(),
    /** Until when the customer's next text answers (or comments); null: nothing awaited. */
    awaitingUntil: at('awaiting_until'),
    /** 1–5 on the score scale; 1 (yes) or 0 (no). */
    score: smallint('score'),
    answeredAt: at('answered_at'),
    comment: text('comment'),
    commentedAt: at('commented_at'),
  },
  (t) => [
    index('survey_responses_awaiting_idx')
      .on(t.numberId, t.customerAddress, t.awaitingUntil)
      .where(sql`${t.awaitingUntil} IS NOT NULL`),
  ],
);

/**
 * How far each user has read each conversation: messages from the customer after read_at are
 * unread for them. A row per reader, so a transfer or a supervisor's look keeps its own mark.
 */
export const conversationReads = pgTable(
  'conversation_reads',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    readAt: at('read_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] })],
);

// ── media ───────────────────────────────────────────────────────────────────────────────
export const media = pgTable(
  'media',
  {
    id: id(),
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    position: smallint('position').notNull(),
    contentType: text('content_type').notNull(),
    /** Twilio's MediaUrlN for inbound media; null for an agent's upload. */
    sourceUrl: text('source_url'),
    status: text('status', { enum: ['pending', 'stored', 'failed', 'refused'] })
      .notNull()
      .default('pending'),
    /** SHA-256 of the bytes: their name in the media store (files, S3 or media_blobs). */
    sha256: text('sha256'),
    size: integer('size'),
    attempts: smallint('attempts').notNull().default(0),
    nextAttemptAt: at('next_attempt_at'),
    lastError: text('last_error'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('media_message_position_key').on(t.messageId, t.position),
    index('media_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    // Bytes are shared by hash: retention and erasure delete them once no row names the hash.
    index('media_sha256_idx').on(t.sha256),
  ],
);

/**
 * Stored bytes retention or an erasure left unnamed, waiting to be deleted (src/retention/,
 * media-deletions.ts): written in the transaction that removed their last media row, deleted
 * by the retention worker once due if still no media row names them, retried until done.
 */
export const mediaDeletions = pgTable(
  'media_deletions',
  {
    sha256: text('sha256').primaryKey(),
    dueAt: at('due_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
  },
  (t) => [index('media_deletions_due_idx').on(t.dueAt)],
);

/**
 * Media bytes kept in the database (MEDIA_STORAGE=database), for instances that share
 * PostgreSQL but no disk: one row per stored file, named by SHA-256 like the files and S3
 * objects, its bytes in chunks written and read one at a time. A row whose sha256 is null
 * is an upload still being written, or one a crash abandoned (swept after a day).
 */
export const mediaBlobs = pgTable(
  'media_blobs',
  {
    id: id(),
    sha256: text('sha256').unique('media_blobs_sha256_key'),
    size: bigint('size', { mode: 'number' }),
    createdAt: createdAt(),
  },
  (t) => [index('media_blobs_incomplete_idx').on(t.createdAt).where(sql`${t.sha256} IS NULL`)],
);

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  // pg answers a Buffer, PGlite a Uint8Array.
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

export const mediaChunks = pgTable(
  'media_chunks',
  {
    blobId: uuid('blob_id')
      .notNull()
      .references(() => mediaBlobs.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    bytes: bytea('bytes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.blobId, t.position] })],
);

// ── routing: offers, affinities, desks ──────────────────────────────────────────────────
export const offers = pgTable(
  'offers',
  {
    id: id(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    state: text('state', { enum: ['pending', 'accepted', 'rejected', 'timed-out', 'canceled'] })
      .notNull()
      .default('pending'),
    /** Why this agent: the queue's strategy, an affinity, or a transfer. */
    reason: text('reason', { enum: ['queue', 'affinity', 'transfer'] })
      .notNull()
      .default('queue'),
    /** The agent's original outbound text when this offer follows an affinity. */
    originalText: text('original_text'),
    expiresAt: at('expires_at').notNull(),
    decidedAt: at('decided_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('offers_one_pending_per_conversation')
      .on(t.conversationId)
      .where(sql`${t.state} = 'pending'`),
    index('offers_due_idx').on(t.expiresAt).where(sql`${t.state} = 'pending'`),
    index('offers_agent_idx').on(t.agentId, t.state),
    index('offers_conversation_idx').on(t.conversationId),
    index('offers_accepted_idx').on(t.decidedAt).where(sql`${t.state} = 'accepted'`),
  ],
);

/** "Replies from this customer to this number go to this agent until expiresAt." */
export const affinities = pgTable(
  'affinities',
  {
    id: id(),
    numberId: uuid('number_id')
      .notNull()
      .references(() => numbers.id, { onDelete: 'cascade' }),
    customerAddress: text('customer_address').notNull(),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    originalText: text('original_text').notNull(),
    messageId: uuid('message_id').references(() => messages.id, { onDelete: 'set null' }),
    expiresAt: at('expires_at').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique('affinities_pair_key').on(t.numberId, t.customerAddress),
    index('affinities_expiry_idx').on(t.expiresAt),
  ],
);

/**
 * When each user's desk (a live GET /api/events socket, on any instance) was last seen open:
 * every instance refreshes it for the sockets it holds, so available or away with no desk
 * for the grace period can be told apart from a desk on another instance. A table of its
 * own, so these frequent writes never wait for (or hold) the row locks routing takes on users.
 */
export const desks = pgTable('desks', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  seenAt: at('seen_at').notNull(),
});

// ── outbound: the outbox ────────────────────────────────────────────────────────────────
export const outbox = pgTable(
  'outbox',
  {
    id: id(),
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    /** The pacing key: a number's address or a Messaging Service SID. */
    sender: text('sender').notNull(),
    state: text('state', { enum: ['pending', 'sending', 'done', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: smallint('attempts').notNull().default(0),
    nextAttemptAt: at('next_attempt_at').notNull().defaultNow(),
    claimedAt: at('claimed_at'),
    /** The instance that claimed the row; its silence (see instances) ends the claim early. */
    claimedBy: uuid('claimed_by'),
    lastError: text('last_error'),
    /**
     * When a send of this row ended without a clear answer (a 5xx, a timeout, a dropped
     * connection): Twilio may have created the message, so the next attempt looks it up on
     * Twilio before sending again. Null while every attempt was answered.
     */
    uncertainSince: at('uncertain_since'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('outbox_message_key').on(t.messageId),
    // Every lookup of due rows is per sender: whether it has one, and its next ones in order.
    index('outbox_sender_due_idx')
      .on(t.sender, t.nextAttemptAt, t.createdAt)
      .where(sql`${t.state} = 'pending'`),
    index('outbox_sending_idx').on(t.claimedAt).where(sql`${t.state} = 'sending'`),
  ],
);

/**
 * Status callbacks that overtook the dispatcher: Twilio reported on a SID before Parley
 * stored it (its answer to the send was slow, or lost and found again by reconciliation).
 * Kept only while the account had sends in flight, applied once the SID is stored, and
 * dropped after an hour (src/outbound/delivery-status.ts).
 */
export const heldStatusReports = pgTable(
  'held_status_reports',
  {
    id: id(),
    messageSid: text('message_sid').notNull(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    status: text('status', { enum: MESSAGE_STATUSES }).notNull(),
    errorCode: integer('error_code'),
    errorMessage: text('error_message'),
    /** What carried the message (StatusCallback.carrier), for a service with an RCS sender. */
    carrier: text('carrier', { enum: ['rcs', 'phone'] }),
    receivedAt: at('received_at').notNull().defaultNow(),
  },
  (t) => [index('held_status_reports_sid_idx').on(t.messageSid)],
);

/**
 * Pacing state per sender, shared by every instance: a dispatcher may hand a message from a
 * sender to Twilio only when next_at has passed, and pushes it on by segments / rate.
 */
export const senders = pgTable(
  'senders',
  {
    sender: text('sender').primaryKey(),
    /** Segments per second. */
    rate: real('rate').notNull(),
    nextAt: at('next_at').notNull().defaultNow(),
    /**
     * A slow sender's window shared by instances (dispatcher.ts, SHARED_WINDOW_BELOW_RATE):
     * per segment Twilio answered, when it stops counting (its answer plus a second).
     */
    answeredUntil: timestamp('answered_until', { withTimezone: true })
      .array()
      .notNull()
      .default(sql`'{}'`),
  },
  (t) => [check('senders_rate_check', sql`${t.rate} > 0`)],
);

// ── instances: who is alive, for leases that end when their holder dies ────────────────
export const instances = pgTable('instances', {
  id: uuid('id').primaryKey(),
  startedAt: at('started_at').notNull().defaultNow(),
  /** Refreshed every second while the process runs. */
  seenAt: at('seen_at').notNull().defaultNow(),
});

// ── retention: when the next redaction run is due ───────────────────────────────────────
/**
 * One row: the instance that moves next_run_at on (UPDATE … WHERE next_run_at <= now) runs
 * retention; the row lock makes any other wait and then find it no longer due.
 */
export const retentionSchedule = pgTable(
  'retention_schedule',
  {
    id: smallint('id').primaryKey().default(1),
    nextRunAt: at('next_run_at').notNull().default(sql`'-infinity'`),
    lastRunAt: at('last_run_at'),
  },
  (t) => [check('retention_schedule_one_row_check', sql`${t.id} = 1`)],
);

// ── realtime: the event log ─────────────────────────────────────────────────────────────
export const events = pgTable(
  'events',
  {
    /** Insertion order; not commit order. */
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** The writing transaction, which orders the log: events are numbered in (xid, id) order. */
    xid: xid8('xid').notNull().default(sql`pg_current_xact_id()`),
    /**
     * The position in the log: given after commit by the sequencer, once every transaction
     * with a smaller xid has ended, so a reader that has seen N never later finds a smaller
     * one. Null until then. The embedded store numbers at insert (migration 0035).
     */
    seq: bigint('seq', { mode: 'number' }),
    type: text('type').notNull(),
    conversationId: uuid('conversation_id'),
    agentId: uuid('agent_id'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('events_seq_key').on(t.seq),
    index('events_conversation_idx').on(t.conversationId, t.seq),
    index('events_agent_idx').on(t.agentId, t.seq),
    // The sequencer's work list: small, since events wait there only until numbered.
    index('events_unnumbered_idx').on(t.xid, t.id).where(sql`seq IS NULL`),
    // Reports read the log by time; a BRIN index costs next to nothing to keep.
    index('events_created_brin').using('brin', t.createdAt),
    // Retention finds a message's events logged with no conversation (keyword texts, an
    // agent's outreach) by its id: few rows, so the index costs the busy path little.
    index('events_unattached_message_idx')
      .on(sql`(${t.payload} ->> 'messageId')`)
      .where(sql`${t.conversationId} IS NULL AND (${t.payload} ->> 'messageId') IS NOT NULL`),
  ],
);

// ── audit: who changed the configuration, who signed in ─────────────────────────────────
export const auditEntries = pgTable(
  'audit_entries',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: at('at').notNull().defaultNow(),
    /** The user who acted; null for Parley itself (a schedule) or an unknown user (a failed sign-in). */
    actorId: uuid('actor_id'),
    /** Who acted as they were known then: an email, `system`, or `cli`. */
    actor: text('actor').notNull(),
    /** What happened, as `<thing>.<verb>`: `queue.updated`, `auth.sign-in-failed`, … */
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    /** Where the request came from: its client address and user agent. */
    ip: text('ip'),
    userAgent: text('user_agent'),
    requestId: text('request_id'),
    /** The fields that changed, as they were and as they became; secrets never, only that they changed. */
    before: jsonb('before').$type<Record<string, unknown>>(),
    after: jsonb('after').$type<Record<string, unknown>>(),
    /** Anything else worth keeping: the email a failed sign-in gave, what an erasure removed. */
    detail: jsonb('detail').$type<Record<string, unknown>>(),
  },
  (t) => [
    index('audit_entries_at_idx').on(t.at),
    index('audit_entries_target_idx').on(t.targetType, t.targetId),
    index('audit_entries_actor_idx').on(t.actorId, t.at),
  ],
);
