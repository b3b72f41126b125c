import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { kindChannel } from './channels.js';
import { nowMs } from './clock.js';
import {
  approvalFetchJson,
  approvalRequestJson,
  CONTENT_HOST,
  contentAndApprovalsJson,
  contentJson,
  newContent,
  parseContentBody,
} from './content.js';
import { errorBody, notFound, TwilioApiError } from './errors.js';
import type { FaultEndpoint } from './faults.js';
import { asRecord, formBool, many, one } from './format.js';
import { type Dispatcher, isFinal } from './outbound.js';
import {
  accountJson,
  accountPath,
  channelSenderJson,
  MESSAGING_HOST,
  mediaJson,
  messageJson,
  numberJson,
  senderJson,
  senderSid,
  serviceJson,
  serviceNumberJson,
  shortCodeJson,
  shortCodeSid,
} from './serializers.js';
import { type EmulatorState, newMessagingService } from './state.js';
import type {
  Account,
  ContentTemplate,
  HttpMethod,
  Message,
  MessagingService,
  PhoneNumber,
} from './types.js';

interface Ctx {
  account: Account;
  params: Record<string, string>;
  query: Record<string, unknown>;
  form: Record<string, unknown>;
  path: string;
}

type Result =
  | { status: number; json: unknown }
  | { status: number; bytes: Buffer; contentType: string }
  | { status: number; location: string };

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  endpoint: FaultEndpoint;
  handler: (ctx: Ctx) => Result | Promise<Result>;
}

interface Credential {
  account: Account;
  kind: 'account' | 'api-key';
}

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/** `/Accounts/:AccountSid/Messages/:Sid.json` → an anchored regex with named groups. */
function compile(template: string): RegExp {
  const source = template
    .split('/')
    .map((part) =>
      part
        .replace(/[.]/g, '\\.')
        .replace(/:([A-Za-z]+)/g, (_m, name: string) => `(?<${name}>[^/.]+)`),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

function json(status: number, body: unknown): Result {
  return { status, json: body };
}

/** Twilio's read envelope for the 2010-04-01 API, with token paging that survives inserts. */
/** An IncomingPhoneNumber: a long code or toll-free number (not a short code or channel sender). */
function isPhoneNumberResource(n: PhoneNumber): boolean {
  return kindChannel(n.kind) === 'sms' && n.kind !== 'short-code';
}

function page2010<T extends { sid: string }>(
  items: T[],
  ctx: Ctx,
  listPath: string,
  key: string,
  filters: [string, string][],
  render: (item: T) => unknown,
): Record<string, unknown> {
  const { size, start, page } = paging(items, ctx.query);
  const slice = items.slice(start, start + size);
  const uri = (p: number, token?: string): string => {
    const q = new URLSearchParams(filters);
    q.set('PageSize', String(size));
    q.set('Page', String(p));
    if (token) q.set('PageToken', token);
    return `${listPath}?${q.toString()}`;
  };
  const last = slice[slice.length - 1];
  const hasNext = last !== undefined && start + size < items.length;
  return {
    [key]: slice.map(render),
    end: start + Math.max(slice.length - 1, 0),
    first_page_uri: uri(0),
    next_page_uri: hasNext ? uri(page + 1, `PA${last.sid}`) : null,
    page,
    page_size: size,
    previous_page_uri: page > 0 ? uri(page - 1) : null,
    start,
    uri: uri(page, one(ctx.query.PageToken)),
  };
}

/** Twilio's read envelope for the v1 APIs (`meta` with absolute URLs on the API's host). */
function pageV1<T extends { sid: string }>(
  items: T[],
  ctx: Ctx,
  listPath: string,
  key: string,
  render: (item: T) => unknown,
  host = MESSAGING_HOST,
): Record<string, unknown> {
  const { size, start, page } = paging(items, ctx.query);
  const slice = items.slice(start, start + size);
  const url = (p: number, token?: string): string => {
    const q = new URLSearchParams({ PageSize: String(size), Page: String(p) });
    if (token) q.set('PageToken', token);
    return `${host}${listPath}?${q.toString()}`;
  };
  const last = slice[slice.length - 1];
  const hasNext = last !== undefined && start + size < items.length;
  return {
    [key]: slice.map(render),
    meta: {
      first_page_url: url(0),
      key,
      next_page_url: hasNext ? url(page + 1, `PA${last.sid}`) : null,
      page,
      page_size: size,
      previous_page_url: page > 0 ? url(page - 1) : null,
      url: url(page, one(ctx.query.PageToken)),
    },
  };
}

function paging(
  items: { sid: string }[],
  query: Record<string, unknown>,
): { size: number; start: number; page: number } {
  const rawSize = Number(one(query.PageSize) ?? DEFAULT_PAGE_SIZE);
  const size =
    Number.isInteger(rawSize) && rawSize > 0 ? Math.min(rawSize, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const rawPage = Number(one(query.Page) ?? 0);
  const page = Number.isInteger(rawPage) && rawPage >= 0 ? rawPage : 0;
  const token = one(query.PageToken);
  if (token?.startsWith('PA')) {
    const after = items.findIndex((i) => i.sid === token.slice(2));
    if (after >= 0) return { size, start: after + 1, page };
  }
  return { size, start: page * size, page };
}

/** DateSent filters: a day (YYYY-MM-DD) or an instant, with Twilio's inclusive `<` and `>`. */
function dateSentFilter(query: Record<string, unknown>): ((sent: number | null) => boolean) | null {
  const checks: ((sent: number) => boolean)[] = [];
  const bounds = (value: string): [number, number] => {
    const day = /^\d{4}-\d{2}-\d{2}$/.test(value);
    const at = Date.parse(day ? `${value}T00:00:00Z` : value);
    if (Number.isNaN(at)) throw new TwilioApiError(400, 20001, `Invalid DateSent value ${value}`);
    return [at, at + (day ? 86_400_000 : 1000)];
  };
  const on = one(query.DateSent);
  const before = one(query['DateSent<']);
  const after = one(query['DateSent>']);
  if (on) {
    const [from, to] = bounds(on);
    checks.push((s) => s >= from && s < to);
  }
  if (before) {
    const [, to] = bounds(before);
    checks.push((s) => s < to);
  }
  if (after) {
    const [from] = bounds(after);
    checks.push((s) => s >= from);
  }
  if (checks.length === 0) return null;
  return (sent) => sent !== null && checks.every((c) => c(sent));
}

function method(value: unknown, fallback: HttpMethod): HttpMethod {
  const v = one(value)?.toUpperCase();
  if (v === undefined) return fallback;
  if (v !== 'GET' && v !== 'POST') throw new TwilioApiError(400, 20001, `Invalid HTTP method ${v}`);
  return v;
}

export function registerRestApi(
  app: FastifyInstance,
  state: EmulatorState,
  dispatcher: Dispatcher,
): void {
  const routes: Route[] = [];
  const add = (
    m: Route['method'],
    template: string,
    endpoint: FaultEndpoint,
    handler: Route['handler'],
  ): void => {
    routes.push({ method: m, pattern: compile(template), endpoint, handler });
  };

  const liveMessage = (ctx: Ctx, sid: string | undefined): Message => {
    const m = sid ? state.messages.get(sid) : undefined;
    if (!m || m.deleted || m.accountSid !== ctx.account.sid) throw notFound(ctx.path);
    return m;
  };
  const ownNumber = (ctx: Ctx, sid: string | undefined): PhoneNumber => {
    const n = sid ? state.numbers.get(sid) : undefined;
    if (!n || n.accountSid !== ctx.account.sid || !isPhoneNumberResource(n)) {
      throw notFound(ctx.path);
    }
    return n;
  };
  /** A short code by its SC SID (the emulator keeps it as a number). */
  const ownShortCode = (ctx: Ctx, sid: string | undefined): PhoneNumber => {
    const n = sid?.startsWith('SC') ? state.numbers.get(`PN${sid.slice(2)}`) : undefined;
    if (!n || n.accountSid !== ctx.account.sid || n.kind !== 'short-code') throw notFound(ctx.path);
    return n;
  };
  const ownContent = (ctx: Ctx, sid: string | undefined): ContentTemplate => {
    const c = sid ? state.contents.get(sid) : undefined;
    if (!c || c.accountSid !== ctx.account.sid) throw notFound(ctx.path);
    return c;
  };
  /** A WhatsApp, Messenger or RCS sender by its XE SID (the emulator keeps it as a number). */
  const channelSender = (ctx: Ctx, sid: string | undefined): PhoneNumber | undefined => {
    const n = sid?.startsWith('XE') ? state.numbers.get(`PN${sid.slice(2)}`) : undefined;
    return n && n.accountSid === ctx.account.sid && kindChannel(n.kind) !== 'sms' ? n : undefined;
  };
  const ownSender = (ctx: Ctx, sid: string | undefined): PhoneNumber => {
    const n = channelSender(ctx, sid);
    if (n?.kind !== 'whatsapp') throw notFound(ctx.path);
    return n;
  };
  const ownService = (ctx: Ctx, sid: string | undefined): MessagingService => {
    const s = sid ? state.services.get(sid) : undefined;
    if (!s || s.accountSid !== ctx.account.sid) throw notFound(ctx.path);
    return s;
  };

  const A = '/2010-04-01/Accounts/:AccountSid';

  add('GET', '/2010-04-01/Accounts/:AccountSid.json', 'account.fetch', (ctx) =>
    json(200, accountJson(ctx.account)),
  );

  add('POST', `${A}/Messages.json`, 'messages.create', (ctx) => {
    const message = dispatcher.create({
      account: ctx.account,
      to: one(ctx.form.To),
      from: one(ctx.form.From),
      messagingServiceSid: one(ctx.form.MessagingServiceSid),
      body: one(ctx.form.Body) ?? '',
      mediaUrls: many(ctx.form.MediaUrl),
      contentSid: one(ctx.form.ContentSid),
      contentVariables: one(ctx.form.ContentVariables),
      statusCallback: one(ctx.form.StatusCallback),
    });
    return json(201, messageJson(message));
  });

  add('GET', `${A}/Messages.json`, 'messages.list', (ctx) => {
    const to = one(ctx.query.To);
    const from = one(ctx.query.From);
    const sentOk = dateSentFilter(ctx.query);
    const items = [...state.messages.values()]
      .reverse()
      .filter(
        (m) =>
          !m.deleted &&
          m.accountSid === ctx.account.sid &&
          (to === undefined || m.to === to) &&
          (from === undefined || m.from === from) &&
          (sentOk === null || sentOk(m.dateSent)),
      );
    const filters: [string, string][] = [];
    for (const k of ['To', 'From', 'DateSent', 'DateSent<', 'DateSent>']) {
      const v = one(ctx.query[k]);
      if (v !== undefined) filters.push([k, v]);
    }
    return json(
      200,
      page2010(
        items,
        ctx,
        `${accountPath(ctx.account.sid)}/Messages.json`,
        'messages',
        filters,
        messageJson,
      ),
    );
  });

  add('GET', `${A}/Messages/:Sid.json`, 'messages.fetch', (ctx) =>
    json(200, messageJson(liveMessage(ctx, ctx.params.Sid))),
  );

  add('POST', `${A}/Messages/:Sid.json`, 'messages.update', (ctx) => {
    const message = liveMessage(ctx, ctx.params.Sid);
    const status = one(ctx.form.Status);
    const body = one(ctx.form.Body);
    // https://www.twilio.com/docs/api/errors/30400: not both in one request.
    if (status !== undefined && body !== undefined) {
      throw new TwilioApiError(
        400,
        30400,
        'Attempted to cancel the message and redact the message body at the same time',
      );
    }
    if (status !== undefined) {
      if (status !== 'canceled')
        throw new TwilioApiError(400, 20001, `Status can only be updated to 'canceled'`);
      dispatcher.cancel(message);
    }
    if (body !== undefined) {
      if (body !== '')
        throw new TwilioApiError(
          400,
          20001,
          'Body can only be updated to an empty string (redaction)',
        );
      // Only a post-flight message record is redacted, as only one is deleted.
      if (!isFinal(message.status)) {
        throw new TwilioApiError(
          400,
          20009,
          'Cannot redact message body because it has not reached a final status',
        );
      }
      message.body = '';
      message.dateUpdated = nowMs();
      state.touchMessage(message);
    }
    return json(200, messageJson(message));
  });

  add('DELETE', `${A}/Messages/:Sid.json`, 'messages.delete', (ctx) => {
    const message = liveMessage(ctx, ctx.params.Sid);
    if (!isFinal(message.status)) {
      throw new TwilioApiError(
        400,
        20009,
        'Cannot delete message because it has not reached a final status',
      );
    }
    message.deleted = true;
    for (const m of message.media) state.media.delete(m.sid);
    state.touchMessage(message);
    return { status: 204, json: undefined };
  });

  add('GET', `${A}/Messages/:MessageSid/Media.json`, 'media.list', (ctx) => {
    const message = liveMessage(ctx, ctx.params.MessageSid);
    const path = `${accountPath(ctx.account.sid)}/Messages/${message.sid}/Media.json`;
    return json(200, page2010(message.media, ctx, path, 'media_list', [], mediaJson));
  });

  const ownMedia = (ctx: Ctx) => {
    const message = liveMessage(ctx, ctx.params.MessageSid);
    const media = message.media.find((m) => m.sid === ctx.params.Sid);
    if (!media) throw notFound(ctx.path);
    return media;
  };
  add('GET', `${A}/Messages/:MessageSid/Media/:Sid.json`, 'media.fetch', (ctx) =>
    json(200, mediaJson(ownMedia(ctx))),
  );
  // The content itself is on Twilio's CDN: the authenticated URL redirects there.
  add('GET', `${A}/Messages/:MessageSid/Media/:Sid`, 'media.fetch', (ctx) => ({
    status: 307,
    location: `/_emulator/cdn/${ownMedia(ctx).sid}`,
  }));
  add('DELETE', `${A}/Messages/:MessageSid/Media/:Sid.json`, 'media.delete', (ctx) => {
    const media = ownMedia(ctx);
    const message = liveMessage(ctx, ctx.params.MessageSid);
    message.media = message.media.filter((m) => m !== media);
    state.media.delete(media.sid);
    state.touchMessage(message);
    return { status: 204, json: undefined };
  });

  // WhatsApp, Messenger and RCS senders are not phone-number resources (WhatsApp's live in
  // the Senders API below), nor are short codes (SMS/ShortCodes, below).
  add('GET', `${A}/IncomingPhoneNumbers.json`, 'numbers.list', (ctx) => {
    const phone = one(ctx.query.PhoneNumber);
    const friendly = one(ctx.query.FriendlyName);
    const items = [...state.numbers.values()].filter(
      (n) =>
        n.accountSid === ctx.account.sid &&
        isPhoneNumberResource(n) &&
        (phone === undefined || n.phoneNumber.includes(phone)) &&
        (friendly === undefined || n.friendlyName === friendly),
    );
    const filters: [string, string][] = [];
    if (phone !== undefined) filters.push(['PhoneNumber', phone]);
    if (friendly !== undefined) filters.push(['FriendlyName', friendly]);
    const path = `${accountPath(ctx.account.sid)}/IncomingPhoneNumbers.json`;
    return json(200, page2010(items, ctx, path, 'incoming_phone_numbers', filters, numberJson));
  });

  add('GET', `${A}/IncomingPhoneNumbers/:Sid.json`, 'numbers.fetch', (ctx) =>
    json(200, numberJson(ownNumber(ctx, ctx.params.Sid))),
  );

  add('POST', `${A}/IncomingPhoneNumbers/:Sid.json`, 'numbers.update', (ctx) => {
    const n = ownNumber(ctx, ctx.params.Sid);
    const f = ctx.form;
    n.smsUrl = one(f.SmsUrl) ?? n.smsUrl;
    n.smsMethod = method(f.SmsMethod, n.smsMethod);
    n.smsFallbackUrl = one(f.SmsFallbackUrl) ?? n.smsFallbackUrl;
    n.smsFallbackMethod = method(f.SmsFallbackMethod, n.smsFallbackMethod);
    n.statusCallback = one(f.StatusCallback) ?? n.statusCallback;
    n.statusCallbackMethod = method(f.StatusCallbackMethod, n.statusCallbackMethod);
    n.friendlyName = one(f.FriendlyName) ?? n.friendlyName;
    n.dateUpdated = nowMs();
    return json(200, numberJson(n));
  });

  // Short codes (https://www.twilio.com/docs/sms/api/short-code): their own resource, whose
  // SMS webhooks are set like a number's, without a status callback.
  add('GET', `${A}/SMS/ShortCodes.json`, 'shortcodes.list', (ctx) => {
    const code = one(ctx.query.ShortCode);
    const friendly = one(ctx.query.FriendlyName);
    const items = [...state.numbers.values()]
      .filter(
        (n) =>
          n.accountSid === ctx.account.sid &&
          n.kind === 'short-code' &&
          (code === undefined || n.phoneNumber.includes(code)) &&
          (friendly === undefined || n.friendlyName === friendly),
      )
      .map((n) => ({ ...n, sid: shortCodeSid(n) }));
    const filters: [string, string][] = [];
    if (code !== undefined) filters.push(['ShortCode', code]);
    if (friendly !== undefined) filters.push(['FriendlyName', friendly]);
    const path = `${accountPath(ctx.account.sid)}/SMS/ShortCodes.json`;
    return json(200, page2010(items, ctx, path, 'short_codes', filters, shortCodeJson));
  });

  add('GET', `${A}/SMS/ShortCodes/:Sid.json`, 'shortcodes.fetch', (ctx) =>
    json(200, shortCodeJson(ownShortCode(ctx, ctx.params.Sid))),
  );

  add('POST', `${A}/SMS/ShortCodes/:Sid.json`, 'shortcodes.update', (ctx) => {
    const n = ownShortCode(ctx, ctx.params.Sid);
    const f = ctx.form;
    n.smsUrl = one(f.SmsUrl) ?? n.smsUrl;
    n.smsMethod = method(f.SmsMethod, n.smsMethod);
    n.smsFallbackUrl = one(f.SmsFallbackUrl) ?? n.smsFallbackUrl;
    n.smsFallbackMethod = method(f.SmsFallbackMethod, n.smsFallbackMethod);
    n.friendlyName = one(f.FriendlyName) ?? n.friendlyName;
    n.dateUpdated = nowMs();
    return json(200, shortCodeJson(n));
  });

  // WhatsApp senders (https://www.twilio.com/docs/whatsapp/api/senders): JSON in and out,
  // their webhook is where inbound WhatsApp messages go.
  add('GET', '/v2/Channels/Senders', 'senders.list', (ctx) => {
    if (one(ctx.query.Channel)?.toLowerCase() !== 'whatsapp') {
      throw new TwilioApiError(400, 20001, 'Channel must be whatsapp');
    }
    const items = [...state.numbers.values()]
      .filter((n) => n.accountSid === ctx.account.sid && n.kind === 'whatsapp')
      .map((n) => ({ ...n, sid: senderSid(n) }));
    return json(200, pageV1(items, ctx, '/v2/Channels/Senders', 'senders', senderJson));
  });
  add('GET', '/v2/Channels/Senders/:Sid', 'senders.fetch', (ctx) => {
    const n = ownSender(ctx, ctx.params.Sid);
    return json(200, senderJson(n));
  });
  add('POST', '/v2/Channels/Senders/:Sid', 'senders.update', (ctx) => {
    const n = ownSender(ctx, ctx.params.Sid);
    const webhook = ctx.form.webhook;
    if (webhook !== undefined) {
      if (!webhook || typeof webhook !== 'object' || Array.isArray(webhook)) {
        throw new TwilioApiError(400, 20001, 'webhook must be an object');
      }
      const w = webhook as Record<string, unknown>;
      const text = (value: unknown, fallback: string) =>
        typeof value === 'string' ? value : fallback;
      n.smsUrl = text(w.callback_url, n.smsUrl);
      n.smsMethod = method(w.callback_method, n.smsMethod);
      n.smsFallbackUrl = text(w.fallback_url, n.smsFallbackUrl);
      n.smsFallbackMethod = method(w.fallback_method, n.smsFallbackMethod);
      n.statusCallback = text(w.status_callback_url, n.statusCallback);
      n.statusCallbackMethod = method(w.status_callback_method, n.statusCallbackMethod);
    }
    n.dateUpdated = nowMs();
    return json(200, senderJson(n));
  });

  add('GET', '/v1/Services', 'services.list', (ctx) => {
    const items = [...state.services.values()].filter((s) => s.accountSid === ctx.account.sid);
    return json(200, pageV1(items, ctx, '/v1/Services', 'services', serviceJson));
  });

  add('POST', '/v1/Services', 'services.create', (ctx) => {
    const friendlyName = one(ctx.form.FriendlyName);
    if (!friendlyName)
      throw new TwilioApiError(
        400,
        20001,
        'Missing required parameter FriendlyName in the post body',
      );
    const service = newMessagingService(ctx.account.sid, friendlyName);
    updateService(service, ctx.form);
    state.services.set(service.sid, service);
    return json(201, serviceJson(service));
  });

  add('GET', '/v1/Services/:Sid', 'services.fetch', (ctx) =>
    json(200, serviceJson(ownService(ctx, ctx.params.Sid))),
  );

  add('POST', '/v1/Services/:Sid', 'services.update', (ctx) => {
    const service = ownService(ctx, ctx.params.Sid);
    updateService(service, ctx.form);
    service.dateUpdated = nowMs();
    return json(200, serviceJson(service));
  });

  // Messenger and RCS senders are the service's ChannelSenders (below), not PhoneNumbers.
  add('GET', '/v1/Services/:ServiceSid/PhoneNumbers', 'services.numbers.list', (ctx) => {
    const service = ownService(ctx, ctx.params.ServiceSid);
    const items = service.numberSids.flatMap((sid) => {
      const n = state.numbers.get(sid);
      return n && n.kind !== 'messenger' && n.kind !== 'rcs' ? [n] : [];
    });
    return json(
      200,
      pageV1(items, ctx, `/v1/Services/${service.sid}/PhoneNumbers`, 'phone_numbers', (n) =>
        serviceNumberJson(service, n),
      ),
    );
  });

  add('POST', '/v1/Services/:ServiceSid/PhoneNumbers', 'services.numbers.create', (ctx) => {
    const service = ownService(ctx, ctx.params.ServiceSid);
    const sid = one(ctx.form.PhoneNumberSid);
    if (!sid)
      throw new TwilioApiError(
        400,
        20001,
        'Missing required parameter PhoneNumberSid in the post body',
      );
    const n = state.numbers.get(sid);
    if (!n || n.accountSid !== ctx.account.sid) {
      throw new TwilioApiError(400, 21710, `Phone Number ${sid} was not found in this account`);
    }
    if (n.serviceSid !== null) {
      throw new TwilioApiError(
        409,
        21710,
        'Phone Number or Short Code is already in the Messaging Service.',
      );
    }
    state.addToService(service, n);
    return json(201, serviceNumberJson(service, n));
  });

  const serviceNumber = (ctx: Ctx) => {
    const service = ownService(ctx, ctx.params.ServiceSid);
    const sid = ctx.params.Sid;
    const n = sid ? state.numbers.get(sid) : undefined;
    if (!n || n.serviceSid !== service.sid) throw notFound(ctx.path);
    return { service, n };
  };
  add('GET', '/v1/Services/:ServiceSid/PhoneNumbers/:Sid', 'services.numbers.fetch', (ctx) => {
    const { service, n } = serviceNumber(ctx);
    return json(200, serviceNumberJson(service, n));
  });
  add('DELETE', '/v1/Services/:ServiceSid/PhoneNumbers/:Sid', 'services.numbers.delete', (ctx) => {
    const { service, n } = serviceNumber(ctx);
    service.numberSids = service.numberSids.filter((s) => s !== n.sid);
    n.serviceSid = null;
    n.dateUpdated = nowMs();
    return { status: 204, json: undefined };
  });

  // Content API (content.twilio.com): JSON in and out.
  add('GET', '/v1/Content', 'content.list', (ctx) => {
    const items = [...state.contents.values()].filter((c) => c.accountSid === ctx.account.sid);
    return json(200, pageV1(items, ctx, '/v1/Content', 'contents', contentJson, CONTENT_HOST));
  });
  add('POST', '/v1/Content', 'content.create', (ctx) => {
    const content = newContent({ accountSid: ctx.account.sid, ...parseContentBody(ctx.form) });
    state.contents.set(content.sid, content);
    return json(201, contentJson(content));
  });
  add('GET', '/v1/Content/:Sid', 'content.fetch', (ctx) =>
    json(200, contentJson(ownContent(ctx, ctx.params.Sid))),
  );
  add('DELETE', '/v1/Content/:Sid', 'content.delete', (ctx) => {
    state.contents.delete(ownContent(ctx, ctx.params.Sid).sid);
    return { status: 204, json: undefined };
  });
  add('GET', '/v1/Content/:Sid/ApprovalRequests', 'content.approval.fetch', (ctx) =>
    json(200, approvalFetchJson(ownContent(ctx, ctx.params.Sid))),
  );
  add('POST', '/v1/Content/:Sid/ApprovalRequests/whatsapp', 'content.approval.create', (ctx) => {
    const content = ownContent(ctx, ctx.params.Sid);
    const name = ctx.form.name;
    const category = ctx.form.category;
    if (typeof name !== 'string' || name === '') {
      throw new TwilioApiError(400, 20001, 'Missing required parameter name in the post body');
    }
    if (typeof category !== 'string' || category === '') {
      throw new TwilioApiError(400, 20001, 'Missing required parameter category in the post body');
    }
    // Twilio takes the request ("received") and passes it on to WhatsApp; the control API
    // plays WhatsApp's answer.
    content.whatsapp = { ...content.whatsapp, name, category, status: 'received' };
    content.dateUpdated = nowMs();
    return json(201, approvalRequestJson(content));
  });
  add('GET', '/v1/ContentAndApprovals', 'content.approvals.list', (ctx) => {
    const items = [...state.contents.values()].filter((c) => c.accountSid === ctx.account.sid);
    return json(
      200,
      pageV1(
        items,
        ctx,
        '/v1/ContentAndApprovals',
        'contents',
        contentAndApprovalsJson,
        CONTENT_HOST,
      ),
    );
  });

  // ChannelSenders (https://www.twilio.com/docs/messaging/api/channelsender-resource): the
  // service's WhatsApp, Messenger and RCS senders, by XE SID.
  add('GET', '/v1/Services/:ServiceSid/ChannelSenders', 'services.senders.list', (ctx) => {
    const service = ownService(ctx, ctx.params.ServiceSid);
    const items = service.numberSids
      .map((sid) => state.numbers.get(sid))
      .filter((n): n is PhoneNumber => n !== undefined && kindChannel(n.kind) !== 'sms')
      .map((n) => ({ ...n, sid: senderSid(n), number: n }));
    return json(
      200,
      pageV1(items, ctx, `/v1/Services/${service.sid}/ChannelSenders`, 'senders', (item) =>
        channelSenderJson(service, item.number),
      ),
    );
  });
  add('POST', '/v1/Services/:ServiceSid/ChannelSenders', 'services.senders.create', (ctx) => {
    const service = ownService(ctx, ctx.params.ServiceSid);
    const sid = one(ctx.form.Sid);
    if (!sid)
      throw new TwilioApiError(400, 20001, 'Missing required parameter Sid in the post body');
    const n = channelSender(ctx, sid);
    if (!n)
      throw new TwilioApiError(400, 20404, `Channel Sender ${sid} was not found in this account`);
    if (n.serviceSid !== null) {
      throw new TwilioApiError(409, 21710, 'The Channel Sender is already in a Messaging Service.');
    }
    state.addToService(service, n);
    return json(201, channelSenderJson(service, n));
  });
  const serviceSender = (ctx: Ctx) => {
    const service = ownService(ctx, ctx.params.ServiceSid);
    const n = channelSender(ctx, ctx.params.Sid);
    if (!n || n.serviceSid !== service.sid) throw notFound(ctx.path);
    return { service, n };
  };
  add('GET', '/v1/Services/:ServiceSid/ChannelSenders/:Sid', 'services.senders.fetch', (ctx) => {
    const { service, n } = serviceSender(ctx);
    return json(200, channelSenderJson(service, n));
  });
  add(
    'DELETE',
    '/v1/Services/:ServiceSid/ChannelSenders/:Sid',
    'services.senders.delete',
    (ctx) => {
      const { service, n } = serviceSender(ctx);
      service.numberSids = service.numberSids.filter((s) => s !== n.sid);
      n.serviceSid = null;
      n.dateUpdated = nowMs();
      return { status: 204, json: undefined };
    },
  );

  const handle = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = req.url.split('?')[0] ?? req.url;
    let endpoint: FaultEndpoint | null = null;
    let credential: Credential | null = null;
    let result: Result;
    try {
      credential = authenticate(state, req.headers.authorization);
      if (!credential) {
        reply.header('WWW-Authenticate', 'Basic realm="Twilio API"');
        throw new TwilioApiError(401, 20003, 'Authenticate');
      }
      const matches = routes
        .map((r) => ({ r, m: r.pattern.exec(path) }))
        .filter((x): x is { r: Route; m: RegExpExecArray } => x.m !== null);
      const match = matches.find((x) => x.r.method === req.method);
      if (!match) {
        if (matches.length > 0) throw new TwilioApiError(405, 20004, 'Method not allowed');
        throw notFound(path);
      }
      const params = Object.fromEntries(
        Object.entries(match.m.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]),
      );
      if (params.AccountSid !== undefined && params.AccountSid !== credential.account.sid) {
        throw new TwilioApiError(401, 20003, 'Authenticate');
      }
      endpoint = match.r.endpoint;
      const fault = state.faults.take(endpoint);
      if (fault?.kind === 'error') throw fault.error;
      if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
      result = await match.r.handler({
        account: credential.account,
        params,
        query: asRecord(req.query),
        form: asRecord(req.body),
        path,
      });
      if (fault?.kind === 'after' && fault.afterwards === 'error') throw fault.error;
      if (fault?.kind === 'after' && fault.afterwards === 'delay') {
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
      }
      if (fault?.kind === 'after' && fault.afterwards === 'drop') {
        state.logRequest({
          method: req.method,
          path: req.url,
          endpoint,
          status: 0,
          accountSid: credential.account.sid,
          credential: credential.kind,
          errorCode: null,
        });
        reply.hijack();
        req.raw.socket.destroy();
        return;
      }
    } catch (err) {
      if (!(err instanceof TwilioApiError)) throw err;
      result = json(err.status, errorBody(err.status, err.code, err.message));
    }
    const body = 'json' in result ? asRecord(result.json) : {};
    state.logRequest({
      method: req.method,
      path: req.url,
      endpoint,
      status: result.status,
      accountSid: credential?.account.sid ?? null,
      credential: credential?.kind ?? null,
      errorCode: result.status >= 400 && typeof body.code === 'number' ? body.code : null,
    });
    reply.code(result.status);
    if ('location' in result) {
      await reply.header('Location', result.location).send();
    } else if ('bytes' in result) {
      await reply.type(result.contentType).send(result.bytes);
    } else if (result.json === undefined) {
      await reply.send();
    } else {
      await reply.send(result.json);
    }
  };

  for (const prefix of ['/2010-04-01/*', '/v1/*', '/v1', '/v2/*']) {
    app.route({ method: ['GET', 'POST', 'DELETE'], url: prefix, handler: handle });
  }

  function updateService(service: MessagingService, form: Record<string, unknown>): void {
    service.friendlyName = one(form.FriendlyName) ?? service.friendlyName;
    service.inboundRequestUrl = one(form.InboundRequestUrl) ?? service.inboundRequestUrl;
    service.inboundMethod = method(form.InboundMethod, service.inboundMethod);
    service.fallbackUrl = one(form.FallbackUrl) ?? service.fallbackUrl;
    service.fallbackMethod = method(form.FallbackMethod, service.fallbackMethod);
    service.statusCallback = one(form.StatusCallback) ?? service.statusCallback;
    service.useInboundWebhookOnNumber =
      formBool(form.UseInboundWebhookOnNumber) ?? service.useInboundWebhookOnNumber;
  }
}

/** HTTP Basic with Account SID + Auth Token, or API Key SID + secret. */
function authenticate(state: EmulatorState, header: string | undefined): Credential | null {
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const user = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  const account = state.accounts.get(user);
  if (account) return account.authToken === secret ? { account, kind: 'account' } : null;
  const key = state.apiKeys.get(user);
  if (!key || key.secret !== secret) return null;
  const owner = state.accounts.get(key.accountSid);
  return owner ? { account: owner, kind: 'api-key' } : null;
}
