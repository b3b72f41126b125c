import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { nowMs } from './clock.js';
import {
  approvalRequestJson,
  approvalStatuses,
  contentAndApprovalsJson,
  contentJson,
  newContent,
  parseContentBody,
} from './content.js';
import { TwilioApiError } from './errors.js';
import { type FaultSpec, faultEndpoints, faultModes } from './faults.js';
import { newSecret, newSid } from './format.js';
import { type HandsetSend, InboundError, receiveFromHandset } from './inbound.js';
import type { Dispatcher } from './outbound.js';
import { messageView, numberJson } from './serializers.js';
import {
  DEFAULT_HANDSET_SETTINGS,
  type EmulatorEvent,
  type EmulatorState,
  newMessagingService,
} from './state.js';
import {
  type ApprovalStatus,
  type CallbackDisorder,
  type ContentTemplate,
  type HttpMethod,
  type MessagingService,
  type PhoneNumber,
  type SenderKind,
  senderRates,
} from './types.js';

const MAX_WAIT_MS = 60_000;
const SID = (prefix: string) => ({ type: 'string', pattern: `^${prefix}[0-9a-f]{32}$` });
const URL_FIELD = { type: 'string' };
const METHOD = { type: 'string', enum: ['GET', 'POST'] };
const WAIT_QUERY = {
  type: 'object',
  properties: {
    after: { type: 'integer', minimum: 0, default: 0 },
    wait: { type: 'integer', minimum: 0, maximum: MAX_WAIT_MS, default: 0 },
  },
} as const;

interface WaitQuery {
  after: number;
  wait: number;
}

interface AccountBody {
  sid?: string;
  authToken?: string;
  friendlyName?: string;
}

interface NumberBody {
  accountSid: string;
  phoneNumber: string;
  kind?: SenderKind;
  mps?: number;
  friendlyName?: string;
  smsUrl?: string;
  smsMethod?: HttpMethod;
  smsFallbackUrl?: string;
  smsFallbackMethod?: HttpMethod;
  statusCallback?: string;
  serviceSid?: string;
  city?: string;
  state?: string;
  zip?: string;
  country?: string;
}

interface ServiceBody {
  accountSid?: string;
  friendlyName?: string;
  inboundRequestUrl?: string | null;
  inboundMethod?: HttpMethod;
  fallbackUrl?: string | null;
  fallbackMethod?: HttpMethod;
  statusCallback?: string | null;
  useInboundWebhookOnNumber?: boolean;
  advancedOptOut?: boolean;
  keywords?: MessagingService['keywords'];
  /** Phone numbers (E.164 or PN SIDs) to add, in sending order. */
  numbers?: string[];
}

interface HandsetBody {
  to: string;
  body?: string;
  media?: { contentType: string; base64: string }[];
  fromCity?: string;
  fromState?: string;
  fromZip?: string;
  fromCountry?: string;
  profileName?: string;
  button?: HandsetSend['button'];
  referral?: HandsetSend['referral'];
}

interface ContentBody {
  sid?: string;
  accountSid: string;
  friendlyName?: string;
  language?: string;
  variables?: Record<string, string>;
  types: Record<string, Record<string, unknown>>;
  whatsapp?: ApprovalBody;
}

interface ApprovalBody {
  status: ApprovalStatus;
  name?: string;
  category?: string;
  rejectionReason?: string;
  allowCategoryChange?: boolean;
}

const APPROVAL_SCHEMA = {
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: [...approvalStatuses] },
    name: { type: 'string' },
    category: { type: 'string' },
    rejectionReason: { type: 'string' },
    allowCategoryChange: { type: 'boolean' },
  },
};

interface SettingsBody {
  statusDelaysMs?: { sending?: number; sent?: number; delivered?: number };
  webhookTimeoutMs?: number;
  queueBoundSeconds?: number;
  callbackDisorder?: (Partial<CallbackDisorder> & { seed: number }) | null;
}

const serviceProperties = {
  friendlyName: { type: 'string' },
  inboundRequestUrl: { type: ['string', 'null'] },
  inboundMethod: METHOD,
  fallbackUrl: { type: ['string', 'null'] },
  fallbackMethod: METHOD,
  statusCallback: { type: ['string', 'null'] },
  useInboundWebhookOnNumber: { type: 'boolean' },
  advancedOptOut: { type: 'boolean' },
  keywords: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: Object.fromEntries(
      ['STOP', 'START', 'HELP'].map((type) => [
        type,
        { type: 'array', items: { type: 'string', minLength: 1 } },
      ]),
    ),
  },
  numbers: { type: 'array', items: { type: 'string' } },
};

/** The kind a number most likely is, when the caller does not say. */
function guessKind(phoneNumber: string): SenderKind {
  if (phoneNumber.startsWith('whatsapp:')) return 'whatsapp';
  if (phoneNumber.startsWith('messenger:')) return 'messenger';
  if (phoneNumber.startsWith('rcs:')) return 'rcs';
  if (/^\d{3,8}$/.test(phoneNumber)) return 'short-code';
  if (/^\+18(00|33|44|55|66|77|88)/.test(phoneNumber)) return 'toll-free';
  return 'long-code';
}

const NUMBER_FORMAT: Record<SenderKind, RegExp> = {
  'long-code': /^\+[1-9]\d{6,14}$/,
  'toll-free': /^\+[1-9]\d{6,14}$/,
  'short-code': /^\d{3,8}$/,
  whatsapp: /^whatsapp:\+[1-9]\d{6,14}$/,
  /** A Facebook Page's id. */
  messenger: /^messenger:\d{1,20}$/,
  /** An RCS agent (sender) id. */
  rcs: /^rcs:[A-Za-z0-9_.@-]{1,128}$/,
};

/** Sets a template's WhatsApp approval; a name and category default to the template's own. */
function applyApproval(content: ContentTemplate, b: ApprovalBody): void {
  const whatsapp = content.whatsapp;
  content.whatsapp = {
    status: b.status,
    name: b.name ?? (whatsapp.name || content.friendlyName.toLowerCase().replace(/\W+/g, '_')),
    category: b.category ?? (whatsapp.category || 'UTILITY'),
    rejectionReason: b.status === 'rejected' ? (b.rejectionReason ?? whatsapp.rejectionReason) : '',
    allowCategoryChange: b.allowCategoryChange ?? whatsapp.allowCategoryChange,
  };
  content.dateUpdated = nowMs();
}

function bad(reply: FastifyReply, status: number, error: string): FastifyReply {
  return reply.code(status).send({ error });
}

export function registerControlApi(
  app: FastifyInstance,
  state: EmulatorState,
  dispatcher: Dispatcher,
): void {
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const s of streams) s.end();
  });

  app.post<{ Body: AccountBody | null }>(
    '/_emulator/accounts',
    {
      schema: {
        body: {
          type: ['object', 'null'],
          properties: {
            sid: SID('AC'),
            authToken: { type: 'string', minLength: 1 },
            friendlyName: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const body = req.body ?? {};
      const sid = body.sid ?? newSid('AC');
      const now = nowMs();
      const existing = state.accounts.get(sid);
      const account = existing ?? {
        sid,
        authToken: body.authToken ?? newSecret(),
        friendlyName: body.friendlyName ?? `Emulated account ${sid.slice(-6)}`,
        dateCreated: now,
        dateUpdated: now,
      };
      if (existing) {
        account.authToken = body.authToken ?? account.authToken;
        account.friendlyName = body.friendlyName ?? account.friendlyName;
        account.dateUpdated = now;
      }
      state.accounts.set(sid, account);
      return { sid: account.sid, authToken: account.authToken, friendlyName: account.friendlyName };
    },
  );

  app.get('/_emulator/accounts', async () =>
    [...state.accounts.values()].map((a) => ({
      sid: a.sid,
      authToken: a.authToken,
      friendlyName: a.friendlyName,
    })),
  );

  app.post<{ Params: { sid: string }; Body: { sid?: string; secret?: string } }>(
    '/_emulator/accounts/:sid/keys',
    {
      schema: {
        body: {
          type: ['object', 'null'],
          properties: { sid: SID('SK'), secret: { type: 'string', minLength: 1 } },
        },
      },
    },
    async (req, reply) => {
      if (!state.accounts.has(req.params.sid))
        return bad(reply, 404, `no account ${req.params.sid}`);
      const key = {
        sid: req.body?.sid ?? newSid('SK'),
        accountSid: req.params.sid,
        secret: req.body?.secret ?? newSecret(),
      };
      state.apiKeys.set(key.sid, key);
      return { sid: key.sid, secret: key.secret };
    },
  );

  app.get('/_emulator/numbers', async () =>
    [...state.numbers.values()].map((n) => ({
      sid: n.sid,
      accountSid: n.accountSid,
      phoneNumber: n.phoneNumber,
      kind: n.kind,
      mps: n.mps,
      friendlyName: n.friendlyName,
      smsUrl: n.smsUrl,
      smsFallbackUrl: n.smsFallbackUrl,
      statusCallback: n.statusCallback,
      serviceSid: n.serviceSid,
    })),
  );

  app.post<{ Body: NumberBody }>(
    '/_emulator/numbers',
    {
      schema: {
        body: {
          type: 'object',
          required: ['accountSid', 'phoneNumber'],
          properties: {
            accountSid: SID('AC'),
            phoneNumber: { type: 'string' },
            kind: { type: 'string', enum: Object.keys(senderRates) },
            mps: { type: 'number', exclusiveMinimum: 0 },
            friendlyName: { type: 'string' },
            smsUrl: URL_FIELD,
            smsMethod: METHOD,
            smsFallbackUrl: URL_FIELD,
            smsFallbackMethod: METHOD,
            statusCallback: URL_FIELD,
            serviceSid: SID('MG'),
            city: { type: 'string' },
            state: { type: 'string' },
            zip: { type: 'string' },
            country: { type: 'string' },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if (!state.accounts.has(b.accountSid)) return bad(reply, 404, `no account ${b.accountSid}`);
      const kind = b.kind ?? guessKind(b.phoneNumber);
      if (!NUMBER_FORMAT[kind].test(b.phoneNumber)) {
        return bad(reply, 400, `${b.phoneNumber} is not a valid ${kind} address`);
      }
      if (state.numberByPhone(b.phoneNumber))
        return bad(reply, 409, `${b.phoneNumber} already exists`);
      const service = b.serviceSid ? state.services.get(b.serviceSid) : undefined;
      if (b.serviceSid && service?.accountSid !== b.accountSid) {
        return bad(reply, 404, `no service ${b.serviceSid} in account ${b.accountSid}`);
      }
      const now = nowMs();
      const number: PhoneNumber = {
        sid: newSid('PN'),
        accountSid: b.accountSid,
        phoneNumber: b.phoneNumber,
        kind,
        mps: b.mps ?? senderRates[kind],
        friendlyName: b.friendlyName ?? b.phoneNumber,
        smsUrl: b.smsUrl ?? '',
        smsMethod: b.smsMethod ?? 'POST',
        smsFallbackUrl: b.smsFallbackUrl ?? '',
        smsFallbackMethod: b.smsFallbackMethod ?? 'POST',
        statusCallback: b.statusCallback ?? '',
        statusCallbackMethod: 'POST',
        serviceSid: null,
        location: {
          city: b.city ?? '',
          state: b.state ?? '',
          zip: b.zip ?? '',
          country: b.country ?? 'US',
        },
        dateCreated: now,
        dateUpdated: now,
      };
      state.numbers.set(number.sid, number);
      if (service) state.addToService(service, number);
      return reply.code(201).send(numberJson(number));
    },
  );

  const applyService = (service: MessagingService, b: ServiceBody): string | null => {
    const members: PhoneNumber[] = [];
    for (const ref of b.numbers ?? []) {
      const n = state.numbers.get(ref) ?? state.numberByPhone(ref);
      if (!n || n.accountSid !== service.accountSid)
        return `no number ${ref} in account ${service.accountSid}`;
      if (n.serviceSid !== null && n.serviceSid !== service.sid)
        return `${ref} is already in service ${n.serviceSid}`;
      if (n.serviceSid === null) members.push(n);
    }
    service.friendlyName = b.friendlyName ?? service.friendlyName;
    if (b.inboundRequestUrl !== undefined) service.inboundRequestUrl = b.inboundRequestUrl;
    service.inboundMethod = b.inboundMethod ?? service.inboundMethod;
    if (b.fallbackUrl !== undefined) service.fallbackUrl = b.fallbackUrl;
    service.fallbackMethod = b.fallbackMethod ?? service.fallbackMethod;
    if (b.statusCallback !== undefined) service.statusCallback = b.statusCallback;
    service.useInboundWebhookOnNumber =
      b.useInboundWebhookOnNumber ?? service.useInboundWebhookOnNumber;
    service.advancedOptOut = b.advancedOptOut ?? service.advancedOptOut;
    if (b.keywords !== undefined) service.keywords = b.keywords;
    service.dateUpdated = nowMs();
    for (const n of members) state.addToService(service, n);
    return null;
  };

  app.post<{ Body: ServiceBody & { accountSid: string } }>(
    '/_emulator/services',
    {
      schema: {
        body: {
          type: 'object',
          required: ['accountSid'],
          properties: { accountSid: SID('AC'), ...serviceProperties },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if (!state.accounts.has(b.accountSid)) return bad(reply, 404, `no account ${b.accountSid}`);
      const service = newMessagingService(b.accountSid, 'Emulated service');
      const error = applyService(service, b);
      if (error) return bad(reply, 400, error);
      state.services.set(service.sid, service);
      return reply.code(201).send({ sid: service.sid });
    },
  );

  app.post<{ Params: { sid: string }; Body: ServiceBody }>(
    '/_emulator/services/:sid',
    { schema: { body: { type: 'object', properties: serviceProperties } } },
    async (req, reply) => {
      const service = state.services.get(req.params.sid);
      if (!service) return bad(reply, 404, `no service ${req.params.sid}`);
      const error = applyService(service, req.body);
      if (error) return bad(reply, 400, error);
      return { sid: service.sid };
    },
  );

  app.post<{ Params: { phone: string }; Body: HandsetBody }>(
    '/_emulator/handsets/:phone/messages',
    {
      schema: {
        body: {
          type: 'object',
          required: ['to'],
          properties: {
            to: { type: 'string' },
            body: { type: 'string', maxLength: 1600 },
            media: {
              type: 'array',
              maxItems: 10,
              items: {
                type: 'object',
                required: ['contentType', 'base64'],
                properties: {
                  contentType: { type: 'string', minLength: 1 },
                  base64: { type: 'string' },
                },
              },
            },
            fromCity: { type: 'string' },
            fromState: { type: 'string' },
            fromZip: { type: 'string' },
            fromCountry: { type: 'string' },
            profileName: { type: 'string' },
            button: {
              type: 'object',
              required: ['text', 'payload'],
              additionalProperties: false,
              properties: { text: { type: 'string' }, payload: { type: 'string' } },
            },
            referral: {
              type: 'object',
              additionalProperties: false,
              properties: {
                body: { type: 'string' },
                headline: { type: 'string' },
                sourceId: { type: 'string' },
                sourceType: { type: 'string' },
                sourceUrl: { type: 'string' },
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      try {
        return await receiveFromHandset(state, dispatcher, {
          handset: req.params.phone,
          to: b.to,
          body: b.body ?? '',
          media: (b.media ?? []).map((m) => ({
            contentType: m.contentType,
            bytes: Buffer.from(m.base64, 'base64'),
          })),
          from: { city: b.fromCity, state: b.fromState, zip: b.fromZip, country: b.fromCountry },
          profileName: b.profileName,
          button: b.button,
          referral: b.referral,
        });
      } catch (err) {
        if (err instanceof InboundError) return bad(reply, err.status, err.message);
        throw err;
      }
    },
  );

  app.post<{ Params: { phone: string }; Body: { sender: string; at: string | number } }>(
    '/_emulator/handsets/:phone/last-inbound',
    {
      schema: {
        body: {
          type: 'object',
          required: ['sender', 'at'],
          additionalProperties: false,
          properties: {
            sender: { type: 'string', minLength: 1 },
            // Number first: Fastify coerces types, and a number tried as a string would stay one.
            at: { anyOf: [{ type: 'number' }, { type: 'string' }] },
          },
        },
      },
    },
    async (req, reply) => {
      const { sender, at } = req.body;
      const ms = typeof at === 'number' ? at : Date.parse(at);
      if (!Number.isFinite(ms)) return bad(reply, 400, `at: ${String(at)} is not a time`);
      // A sender the emulator does not know would make the backdating silently meaningless.
      if (!state.numberByPhone(sender)) return bad(reply, 404, `no emulated sender ${sender}`);
      state.recordInbound(sender, req.params.phone, ms);
      return {
        handset: req.params.phone,
        sender,
        at: new Date(ms).toISOString(),
        windowOpen: state.sessionOpen(sender, req.params.phone),
      };
    },
  );

  app.get<{ Params: { phone: string }; Querystring: WaitQuery }>(
    '/_emulator/handsets/:phone/inbox',
    { schema: { querystring: WAIT_QUERY } },
    async (req) => {
      const { after, wait } = req.query;
      const compute = () =>
        state.handsetMessages.filter(
          (m) => m.id > after && m.handset === req.params.phone && m.direction === 'to-handset',
        );
      const messages = await state.waitFor(compute, wait);
      return { messages, cursor: Math.max(after, ...messages.map((m) => m.id)) };
    },
  );

  app.get<{ Params: { phone: string }; Querystring: WaitQuery & { with?: string } }>(
    '/_emulator/handsets/:phone/thread',
    {
      schema: {
        querystring: {
          ...WAIT_QUERY,
          properties: { ...WAIT_QUERY.properties, with: { type: 'string' } },
        },
      },
    },
    async (req) => {
      const { after, wait, with: business } = req.query;
      const compute = () =>
        state.handsetMessages.filter(
          (m) =>
            m.id > after &&
            m.handset === req.params.phone &&
            (business === undefined || m.business === business),
        );
      const messages = await state.waitFor(compute, wait);
      return { messages, cursor: Math.max(after, ...messages.map((m) => m.id)) };
    },
  );

  app.post<{
    Params: { phone: string };
    Body: {
      deliveryErrorCode?: number | null;
      readReceipts?: boolean;
      partialMms?: boolean;
      rcsCapable?: boolean;
    };
  }>(
    '/_emulator/handsets/:phone/settings',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            deliveryErrorCode: { type: ['integer', 'null'] },
            readReceipts: { type: 'boolean' },
            partialMms: { type: 'boolean' },
            rcsCapable: { type: 'boolean' },
          },
        },
      },
    },
    async (req) => {
      const settings = {
        ...(state.handsetSettings.get(req.params.phone) ?? DEFAULT_HANDSET_SETTINGS),
        ...req.body,
      };
      state.handsetSettings.set(req.params.phone, settings);
      return { handset: req.params.phone, ...settings };
    },
  );

  // Content templates made directly for an account, and WhatsApp's verdict on them.
  app.post<{ Body: ContentBody }>(
    '/_emulator/contents',
    {
      schema: {
        body: {
          type: 'object',
          required: ['accountSid', 'types'],
          additionalProperties: false,
          properties: {
            sid: SID('HX'),
            accountSid: SID('AC'),
            friendlyName: { type: 'string' },
            language: { type: 'string', minLength: 1 },
            variables: { type: 'object', additionalProperties: { type: 'string' } },
            types: { type: 'object', additionalProperties: { type: 'object' } },
            whatsapp: APPROVAL_SCHEMA,
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if (!state.accounts.has(b.accountSid)) return bad(reply, 404, `no account ${b.accountSid}`);
      if (b.sid && state.contents.has(b.sid)) return bad(reply, 409, `content ${b.sid} exists`);
      let parts: ReturnType<typeof parseContentBody>;
      try {
        parts = parseContentBody({
          friendly_name: b.friendlyName,
          language: b.language ?? 'en',
          variables: b.variables,
          types: b.types,
        });
      } catch (err) {
        if (err instanceof TwilioApiError) return bad(reply, 400, err.message);
        throw err;
      }
      const content = newContent({ sid: b.sid, accountSid: b.accountSid, ...parts });
      if (b.whatsapp) applyApproval(content, b.whatsapp);
      state.contents.set(content.sid, content);
      return reply
        .code(201)
        .send({ ...contentJson(content), approval_requests: approvalRequestJson(content) });
    },
  );

  app.get('/_emulator/contents', async () =>
    [...state.contents.values()].map(contentAndApprovalsJson),
  );

  app.post<{ Params: { sid: string }; Body: ApprovalBody }>(
    '/_emulator/contents/:sid/approval',
    { schema: { body: APPROVAL_SCHEMA } },
    async (req, reply) => {
      const content = state.contents.get(req.params.sid);
      if (!content) return bad(reply, 404, `no content ${req.params.sid}`);
      applyApproval(content, req.body);
      return approvalRequestJson(content);
    },
  );

  app.get<{ Querystring: WaitQuery & { sid?: string; from?: string; to?: string } }>(
    '/_emulator/messages',
    {
      schema: {
        querystring: {
          ...WAIT_QUERY,
          properties: {
            ...WAIT_QUERY.properties,
            sid: { type: 'string' },
            from: { type: 'string' },
            to: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const { after, wait, sid, from, to } = req.query;
      const compute = () =>
        [...state.messages.values()]
          .filter(
            (m) =>
              m.seq > after &&
              (sid === undefined || m.sid === sid) &&
              (from === undefined || m.from === from) &&
              (to === undefined || m.to === to),
          )
          .sort((a, b) => a.seq - b.seq);
      const messages = await state.waitFor(compute, wait);
      const publicUrl = state.publicUrl();
      return {
        messages: messages.map((m) => messageView(m, publicUrl)),
        cursor: Math.max(after, ...messages.map((m) => m.seq)),
      };
    },
  );

  app.get<{ Querystring: WaitQuery }>(
    '/_emulator/requests',
    { schema: { querystring: WAIT_QUERY } },
    async (req) => {
      const { after, wait } = req.query;
      const requests = await state.waitFor(
        () => state.requestLog.filter((r) => r.id > after),
        wait,
      );
      return { requests, cursor: Math.max(after, ...requests.map((r) => r.id)) };
    },
  );

  app.post<{ Body: { all?: boolean } | null }>(
    '/_emulator/reset',
    { schema: { body: { type: ['object', 'null'], properties: { all: { type: 'boolean' } } } } },
    async (req) => {
      const all = req.body?.all ?? false;
      state.reset(all);
      dispatcher.reset();
      return { reset: all ? 'all' : 'traffic' };
    },
  );

  app.get('/_emulator/faults', async () => ({ faults: state.faults.list() }));

  app.post<{ Body: FaultSpec }>(
    '/_emulator/faults',
    {
      schema: {
        body: {
          type: 'object',
          required: ['endpoint', 'mode'],
          properties: {
            endpoint: { type: 'string', enum: ['*', ...faultEndpoints] },
            mode: { type: 'string', enum: [...faultModes] },
            count: { type: 'integer', minimum: 1 },
            ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
            delayMs: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
    async (req, reply) => reply.code(201).send({ id: state.faults.add(req.body) }),
  );

  app.delete('/_emulator/faults', async (_req, reply) => {
    state.faults.clear();
    return reply.code(204).send();
  });

  app.get('/_emulator/settings', async () => state.settings);

  app.post<{ Body: SettingsBody }>(
    '/_emulator/settings',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            statusDelaysMs: {
              type: 'object',
              properties: {
                sending: { type: 'integer', minimum: 0 },
                sent: { type: 'integer', minimum: 0 },
                delivered: { type: 'integer', minimum: 0 },
              },
            },
            webhookTimeoutMs: { type: 'integer', minimum: 1 },
            queueBoundSeconds: { type: 'number', minimum: 0 },
            callbackDisorder: {
              type: ['object', 'null'],
              required: ['seed'],
              additionalProperties: false,
              properties: {
                seed: { type: 'integer' },
                skipRatio: { type: 'number', minimum: 0, maximum: 1 },
                duplicateRatio: { type: 'number', minimum: 0, maximum: 1 },
                reorderMs: { type: 'integer', minimum: 0 },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const b = req.body;
      const s = state.settings;
      s.statusDelaysMs = { ...s.statusDelaysMs, ...b.statusDelaysMs };
      s.webhookTimeoutMs = b.webhookTimeoutMs ?? s.webhookTimeoutMs;
      s.queueBoundSeconds = b.queueBoundSeconds ?? s.queueBoundSeconds;
      if (b.callbackDisorder !== undefined) {
        s.callbackDisorder = b.callbackDisorder && {
          skipRatio: 0,
          duplicateRatio: 0,
          reorderMs: 0,
          ...b.callbackDisorder,
        };
      }
      return s;
    },
  );

  // Twilio's media CDN: presigned URLs, which refuse a request that also carries credentials
  // (a client must not forward the API's Authorization across the redirect).
  app.get<{ Params: { sid: string } }>('/_emulator/cdn/:sid', async (req, reply) => {
    if (req.headers.authorization) {
      return bad(reply, 400, 'Only one auth mechanism allowed; the URL is already signed');
    }
    const media = state.media.get(req.params.sid);
    if (!media) return bad(reply, 404, `no media ${req.params.sid}`);
    return reply.type(media.contentType).send(media.bytes);
  });

  app.get<{ Params: { sid: string } }>('/_emulator/media/:sid', async (req, reply) => {
    const media = state.media.get(req.params.sid);
    if (!media) return bad(reply, 404, `no media ${req.params.sid}`);
    return reply
      .type(media.contentType)
      .header('Cache-Control', 'private, max-age=3600')
      .send(media.bytes);
  });

  // Server-sent events for the phone page: every message change and every handset message.
  app.get('/_emulator/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: 2000\n: cursor ${state.cursor}\n\n`);
    const publicUrl = state.publicUrl();
    const send = (event: EmulatorEvent): void => {
      const data = event.type === 'message' ? messageView(event.data, publicUrl) : event.data;
      res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = state.subscribe(send);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    streams.add(res);
    req.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    });
  });
}
