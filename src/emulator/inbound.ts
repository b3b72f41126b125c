import { channelOf, HANDSET_ADDRESS, kindChannel } from './channels.js';
import { nowMs } from './clock.js';
import { newSid } from './format.js';
import {
  classifyKeyword,
  defaultReply,
  handlesKeywords,
  type KeywordType,
  optOutKey,
} from './opt-out.js';
import type { Dispatcher } from './outbound.js';
import { countSegments } from './segments.js';
import { mediaContentUrl, openMediaUrl } from './serializers.js';
import type { EmulatorState } from './state.js';
import { parseMessagingTwiml, type TwimlMessage, TwimlParseError } from './twiml.js';
import type { HttpMethod, Location, MediaItem, Message, PhoneNumber } from './types.js';
import { sendSignedRequest, type WebhookAttempt } from './webhooks.js';

export interface HandsetSend {
  handset: string;
  to: string;
  body: string;
  media: { contentType: string; bytes: Buffer }[];
  from: Partial<Location>;
  /** WhatsApp only: the sender's profile name. */
  profileName: string | undefined;
  /** WhatsApp only: the quick-reply button tapped (its text is also the body). */
  button?: { text: string; payload: string } | undefined;
  /** WhatsApp only: the click-to-WhatsApp ad or post the customer came from. */
  referral?:
    | {
        body?: string;
        headline?: string;
        sourceId?: string;
        sourceType?: string;
        sourceUrl?: string;
      }
    | undefined;
}

export interface AttemptOutcome {
  url: string;
  method: HttpMethod;
  status: number | null;
  error: string | null;
}

export interface WebhookOutcome extends AttemptOutcome {
  fallbackUsed: boolean;
  fallback: AttemptOutcome | null;
}

export interface InboundResult {
  sid: string;
  /** Null when neither the number nor its service has an inbound URL. */
  webhook: WebhookOutcome | null;
  replies: string[];
  autoReply: string | null;
  optOutType: KeywordType | null;
}

export class InboundError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Target {
  url: string;
  method: HttpMethod;
  fallbackUrl: string | null;
  fallbackMethod: HttpMethod;
}

/** A handset texts a business number: store, apply keywords, call the webhook, deliver TwiML replies. */
export async function receiveFromHandset(
  state: EmulatorState,
  dispatcher: Dispatcher,
  send: HandsetSend,
): Promise<InboundResult> {
  const number = state.numberByPhone(send.to);
  if (!number) throw new InboundError(404, `no emulated number ${send.to}`);
  if (!HANDSET_ADDRESS.test(send.handset))
    throw new InboundError(400, `invalid handset address ${send.handset}`);
  const channel = channelOf(send.handset);
  if (channel !== kindChannel(number.kind)) {
    throw new InboundError(
      400,
      `a ${channel} handset can only write to a ${channel} sender (${send.to} is ${number.kind})`,
    );
  }
  if (send.body === '' && send.media.length === 0)
    throw new InboundError(400, 'body or media is required');
  if (send.media.length > 10) throw new InboundError(400, 'at most 10 media items');
  const account = state.accounts.get(number.accountSid);
  if (!account) throw new InboundError(404, `no account ${number.accountSid}`);
  const generation = state.generation;
  const publicUrl = state.publicUrl();

  const message = storeInbound(state, number, send);
  // The handset's message opens (or renews) the 24-hour window for this sender.
  state.recordInbound(number.phoneNumber, send.handset, message.dateCreated);
  state.addHandsetMessage({
    sid: message.sid,
    handset: send.handset,
    business: number.phoneNumber,
    direction: 'from-handset',
    kind: 'message',
    channel,
    body: message.body,
    media: message.media.map((m) => ({
      sid: m.sid,
      contentType: m.contentType,
      url: openMediaUrl(publicUrl, m.sid),
    })),
    date: new Date(message.dateCreated).toISOString(),
  });

  const service = number.serviceSid ? state.services.get(number.serviceSid) : undefined;
  const keyword = handlesKeywords(number)
    ? classifyKeyword(send.body, number.kind, service?.advancedOptOut ? service.keywords : null)
    : null;
  let autoReply: string | null = null;
  const key = optOutKey(number, send.handset);
  // An opted-out handset gets no answer to HELP: nothing is sent to it until it opts in.
  if (keyword && !(keyword.type === 'HELP' && state.optOuts.has(key))) {
    if (keyword.type === 'STOP') state.optOuts.add(key);
    if (keyword.type === 'START') state.optOuts.delete(key);
    autoReply = defaultReply(number.kind, keyword.type, keyword.word);
    state.addHandsetMessage({
      sid: null,
      handset: send.handset,
      business: number.phoneNumber,
      direction: 'to-handset',
      kind: 'auto-reply',
      channel,
      body: autoReply,
      media: [],
      date: new Date().toISOString(),
    });
  }
  const optOutType = keyword && service?.advancedOptOut ? keyword.type : null;

  const target = webhookTarget(state, number);
  if (!target) return { sid: message.sid, webhook: null, replies: [], autoReply, optOutType };

  const params = webhookParams(publicUrl, number, message, send, optOutType);
  const timeout = state.settings.webhookTimeoutMs;
  const primary = await sendSignedRequest(
    target.url,
    target.method,
    params,
    account.authToken,
    timeout,
  );
  const primaryAnswer = evaluate(primary);
  let answer = primaryAnswer;
  let fallback: AttemptOutcome | null = null;
  if (!answer.ok && target.fallbackUrl) {
    // The fallback request says what went wrong with the primary URL, as Twilio's does.
    const second = await sendSignedRequest(
      target.fallbackUrl,
      target.fallbackMethod,
      { ...params, ErrorCode: String(answer.errorCode), ErrorUrl: target.url },
      account.authToken,
      timeout,
    );
    const secondAnswer = evaluate(second);
    fallback = secondAnswer.outcome;
    if (secondAnswer.ok) answer = secondAnswer;
  }
  const replies: string[] = [];
  if (answer.ok && generation === state.generation && !state.closed) {
    for (const verb of answer.messages) {
      const reply = dispatcher.reply(
        replySender(state, number, verb),
        verb.to ?? send.handset,
        verb.body,
        verb.media,
        verb.statusCallback,
      );
      replies.push(reply.sid);
    }
  }
  return {
    sid: message.sid,
    webhook: { ...primaryAnswer.outcome, fallbackUsed: fallback !== null, fallback },
    replies,
    autoReply,
    optOutType,
  };
}

function storeInbound(state: EmulatorState, number: PhoneNumber, send: HandsetSend): Message {
  const now = nowMs();
  const sid = newSid(send.media.length > 0 ? 'MM' : 'SM');
  const media: MediaItem[] = send.media.map((m) => ({
    sid: newSid('ME'),
    accountSid: number.accountSid,
    messageSid: sid,
    contentType: m.contentType,
    bytes: m.bytes,
    dateCreated: now,
  }));
  for (const m of media) state.media.set(m.sid, m);
  const message: Message = {
    sid,
    accountSid: number.accountSid,
    messagingServiceSid: number.serviceSid,
    from: send.handset,
    to: number.phoneNumber,
    body: send.body,
    channel: channelOf(send.handset),
    contentSid: null,
    direction: 'inbound',
    status: 'received',
    errorCode: null,
    errorMessage: null,
    numSegments: countSegments(send.body).segments,
    numMedia: media.length,
    media,
    statusCallback: null,
    dateCreated: now,
    dateUpdated: now,
    dateSent: now,
    history: [{ status: 'received', at: now }],
    seq: 0,
    deleted: false,
  };
  state.messages.set(sid, message);
  state.touchMessage(message);
  return message;
}

/** The number's SmsUrl, unless its Messaging Service takes inbound traffic itself. */
function webhookTarget(state: EmulatorState, number: PhoneNumber): Target | null {
  const service = number.serviceSid ? state.services.get(number.serviceSid) : undefined;
  if (service && !service.useInboundWebhookOnNumber) {
    if (!service.inboundRequestUrl) return null;
    return {
      url: service.inboundRequestUrl,
      method: service.inboundMethod,
      fallbackUrl: service.fallbackUrl,
      fallbackMethod: service.fallbackMethod,
    };
  }
  if (!number.smsUrl) return null;
  return {
    url: number.smsUrl,
    method: number.smsMethod,
    fallbackUrl: number.smsFallbackUrl || null,
    fallbackMethod: number.smsFallbackMethod,
  };
}

function webhookParams(
  publicUrl: string,
  number: PhoneNumber,
  message: Message,
  send: HandsetSend,
  optOutType: KeywordType | null,
): Record<string, string> {
  const channel = channelOf(send.handset);
  const params: Record<string, string> = {
    SmsMessageSid: message.sid,
    NumMedia: String(message.media.length),
    SmsSid: message.sid,
    SmsStatus: 'received',
    Body: message.body,
    To: number.phoneNumber,
    NumSegments: String(message.numSegments),
    MessageSid: message.sid,
    AccountSid: message.accountSid,
    From: message.from ?? send.handset,
    ApiVersion: '2010-04-01',
  };
  // Carrier geography comes with SMS only; WhatsApp and Messenger messages have none.
  if (channel === 'sms') {
    Object.assign(params, {
      ToCountry: number.location.country,
      ToState: number.location.state,
      ToCity: number.location.city,
      ToZip: number.location.zip,
      FromZip: send.from.zip ?? '',
      FromState: send.from.state ?? '',
      FromCity: send.from.city ?? '',
      FromCountry: send.from.country ?? 'US',
    });
  }
  if (message.messagingServiceSid) params.MessagingServiceSid = message.messagingServiceSid;
  message.media.forEach((m, i) => {
    params[`MediaContentType${i}`] = m.contentType;
    params[`MediaUrl${i}`] = mediaContentUrl(publicUrl, m);
  });
  if (optOutType) params.OptOutType = optOutType;
  if (channel === 'whatsapp') {
    params.WaId = send.handset.slice('whatsapp:+'.length);
    if (send.profileName) params.ProfileName = send.profileName;
    if (send.button) {
      params.ButtonText = send.button.text;
      params.ButtonPayload = send.button.payload;
    }
    // Twilio's Referral* fields, present only for a conversation started from an ad or post.
    const referral = send.referral ?? {};
    for (const [key, field] of [
      ['body', 'ReferralBody'],
      ['headline', 'ReferralHeadline'],
      ['sourceId', 'ReferralSourceId'],
      ['sourceType', 'ReferralSourceType'],
      ['sourceUrl', 'ReferralSourceUrl'],
    ] as const) {
      const value = referral[key];
      if (value) params[field] = value;
    }
  }
  return params;
}

type Answer =
  | { ok: true; messages: TwimlMessage[]; outcome: AttemptOutcome }
  | { ok: false; outcome: AttemptOutcome; errorCode: number };

/** A 2xx answer whose body is empty or valid TwiML succeeds; anything else calls for the fallback. */
function evaluate(attempt: WebhookAttempt): Answer {
  const outcome: AttemptOutcome = {
    url: attempt.url,
    method: attempt.method,
    status: attempt.status,
    error: attempt.error,
  };
  if (attempt.status === null) {
    // No connection, or no answer in time: Twilio's 11205 (HTTP connection failure).
    return { ok: false, outcome, errorCode: 11205 };
  }
  if (attempt.status < 200 || attempt.status > 299) {
    return {
      ok: false,
      outcome: { ...outcome, error: `HTTP ${attempt.status} (11200)` },
      errorCode: 11200,
    };
  }
  if (attempt.body.trim() === '') return { ok: true, messages: [], outcome };
  try {
    return { ok: true, messages: parseMessagingTwiml(attempt.body), outcome };
  } catch (err) {
    if (!(err instanceof TwimlParseError)) throw err;
    return {
      ok: false,
      outcome: { ...outcome, error: `document parse failure (12100): ${err.message}` },
      errorCode: 12100,
    };
  }
}

/** TwiML may name another of the account's numbers in `from`; otherwise the texted number answers. */
function replySender(state: EmulatorState, number: PhoneNumber, verb: TwimlMessage): PhoneNumber {
  if (!verb.from) return number;
  const other = state.numberByPhone(verb.from);
  return other && other.accountSid === number.accountSid ? other : number;
}
