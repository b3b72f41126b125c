import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findAccountBySid, getAccountCredentials } from '../admin/accounts.js';
import { findNumberForWebhook, getNumber, type NumberRow } from '../admin/numbers.js';
import { fromTwilioStatus } from '../channels/twilio/message-status.js';
import { verifyTwilioSignature } from '../channels/twilio/signature.js';
import { STATUS_CALLBACK_PATH, WEBHOOK_PATH } from '../channels/twilio/webhooks.js';
import { numberWithOpenConversationInService } from '../conversations/conversations.js';
import type { ConfigCache } from '../db/config-cache.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { flowOfNumber } from '../flows/flows.js';
import {
  holdStatusReport,
  type StatusReport,
  statusReportBatches,
} from '../outbound/delivery-status.js';
import type { SecretBox } from '../secret-box.js';
import { InboundBatcher } from './batch.js';
import type { InboundMessage } from './receive.js';

/** Work the webhook leaves due for after its answer; each kick is only a hint to a worker. */
export interface InboundKicks {
  flowDue(conversationId: string): void;
  mediaDue(): void;
  /** A conversation entered this queue: this instance's routing can place it now. */
  queued(queueId: string): void;
}

export interface WebhookDeps {
  db: Db;
  secretBox: SecretBox;
  publicUrl: string;
  kicks: InboundKicks;
  /** Numbers, credentials and flows, cached in this instance until an admin changes them. */
  configCache: ConfigCache;
}

const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
const MESSAGE_SID = /^(SM|MM)[0-9a-f]{32}$/;
const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;
/** Twilio's error codes are five digits; anything that is not a small number is dropped. */
const ERROR_CODE = /^\d{1,9}$/;
/** Longer than any address Twilio sends (E.164, `whatsapp:+…`, `messenger:<page id>`). */
const MAX_ADDRESS_LENGTH = 256;

interface WebhookForm {
  /** The parameters exactly as Twilio signed them. */
  signed: Record<string, string>;
  /** The same parameters with what PostgreSQL cannot store replaced: the only ones to use. */
  params: Record<string, string>;
}

/** Twilio's form parameters as a flat map; a repeated or non-text field is malformed. */
function readForm(request: FastifyRequest): WebhookForm {
  const body = request.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('bad_request', 'body is not a form');
  }
  // No prototype: a field named `__proto__` or `constructor` is a field like any other.
  const signed: Record<string, string> = Object.create(null);
  const params: Record<string, string> = Object.create(null);
  const replaced: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (typeof value !== 'string')
      throw new AppError('bad_request', `field ${key} is not a single value`);
    signed[key] = value;
    params[key] = storableText(value);
    if (params[key] !== value) replaced.push(key);
  }
  if (replaced.length > 0) {
    request.log.warn({ fields: replaced }, 'replaced characters PostgreSQL cannot store');
  }
  return { signed, params };
}

/**
 * The text with U+0000 (refused in text and jsonb) and unpaired UTF-16 surrogates (refused in
 * jsonb) replaced by U+FFFD. A handset can send either; the message must be kept all the same.
 */
export function storableText(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD').replace(/\p{Cs}/gu, '\uFFFD');
}

function required(params: Record<string, string>, field: string, pattern?: RegExp): string {
  const value = params[field];
  if (!value || (pattern && !pattern.test(value))) {
    throw new AppError('bad_request', `field ${field} is missing or malformed`);
  }
  return value;
}

function address(params: Record<string, string>, field: 'From' | 'To'): string {
  const value = required(params, field);
  if (value.length > MAX_ADDRESS_LENGTH) {
    throw new AppError(
      'bad_request',
      `field ${field} is longer than ${MAX_ADDRESS_LENGTH} characters`,
    );
  }
  return value;
}

function verify(
  request: FastifyRequest,
  deps: WebhookDeps,
  credentials: { accountSid: string; authToken: string },
  form: WebhookForm,
): void {
  const signature = request.headers['x-twilio-signature'];
  const outcome = verifyTwilioSignature({
    authToken: credentials.authToken,
    signature: typeof signature === 'string' ? signature : undefined,
    publicUrl: deps.publicUrl,
    pathAndQuery: request.url,
    params: form.signed,
  });
  if (outcome === 'missing') throw new AppError('forbidden', 'no X-Twilio-Signature header');
  if (outcome === 'mismatch') {
    throw new AppError(
      'forbidden',
      `X-Twilio-Signature does not match ${deps.publicUrl}${request.url} with the account's auth token`,
    );
  }
  // A request signed by the account's token still names the account it is about.
  if (form.params.AccountSid !== credentials.accountSid) {
    throw new AppError('forbidden', `AccountSid is not ${credentials.accountSid}`);
  }
}

/**
 * Answers a refused webhook with its status and the status's name only, so that an unsigned
 * request cannot probe which numbers, accounts or messages Parley knows; the reason is logged.
 */
function refuse(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  if (!(error instanceof AppError)) throw error;
  request.log.warn({ status: error.status, reason: error.message }, 'Twilio webhook refused');
  return reply.status(error.status).type('text/plain').send(STATUS_CODES[error.status]);
}

/**
 * Inbound messages and status callbacks from Twilio. Each is checked against its signature
 * with the auth token of the account that owns the number (or the message) it is about, and
 * must name that account; anything else is refused before it changes anything.
 */
export function registerWebhookRoutes(app: FastifyInstance, deps: WebhookDeps): void {
  const inboundBatcher = new InboundBatcher(deps.db);
  const statusReports = statusReportBatches(deps.db);
  app.post(WEBHOOK_PATH, { schema: { hide: true } }, async (request, reply) => {
    try {
      const form = readForm(request);
      const { params } = form;
      const to = params.To ?? '';
      const service = params.MessagingServiceSid;
      const addressed = await deps.configCache.get(`number:${to}:${service ?? ''}`, () =>
        findNumberForWebhook(deps.db, { to, messagingServiceSid: service }),
      );
      if (!addressed) {
        throw new AppError('forbidden', 'no number configured for this To or MessagingServiceSid');
      }
      const credentials = await deps.configCache.get(`credentials:${addressed.accountId}`, () =>
        getAccountCredentials(deps.db, deps.secretBox, addressed.accountId),
      );
      verify(request, deps, credentials, form);
      const from = address(params, 'From');
      const number = await numberOfConversation(deps, addressed, service, from);
      const inbound: InboundMessage = {
        messageSid: required(params, 'MessageSid', MESSAGE_SID),
        from,
        to: address(params, 'To'),
        body: params.Body ?? '',
        media: mediaOf(params),
        optOutType: params.OptOutType,
        location: locationOf(params),
      };
      const flow = await deps.configCache.get(`flow-of-number:${number.id}`, () =>
        flowOfNumber(deps.db, number.id),
      );
      const outcome = await inboundBatcher.receive(number, flow, inbound);
      if (outcome.duplicate) {
        // Twilio's SIDs are unique: another account's message under this SID is a forgery.
        if (!outcome.sameAccount) {
          throw new AppError('forbidden', `MessageSid ${inbound.messageSid} is another account's`);
        }
        request.log.info(
          { messageSid: inbound.messageSid },
          'duplicate delivery of a stored message',
        );
      } else {
        const { conversationId, flowDue, mediaPending, queuedIn } = outcome;
        if (flowDue && conversationId) deps.kicks.flowDue(conversationId);
        if (mediaPending) deps.kicks.mediaDue();
        if (queuedIn) deps.kicks.queued(queuedIn);
      }
      return reply.type('text/xml').send(EMPTY_TWIML);
    } catch (error) {
      return refuse(request, reply, error);
    }
  });

  app.post(STATUS_CALLBACK_PATH, { schema: { hide: true } }, async (request, reply) => {
    try {
      const form = readForm(request);
      const { params } = form;
      const accountSid = params.AccountSid ?? '';
      const account = ACCOUNT_SID.test(accountSid)
        ? await deps.configCache.get(`account-by-sid:${accountSid}`, () =>
            findAccountBySid(deps.db, deps.secretBox, accountSid),
          )
        : undefined;
      if (!account) throw new AppError('forbidden', 'AccountSid is not an account of Parley');
      verify(request, deps, { accountSid, authToken: account.authToken }, form);
      const messageSid = required(params, 'MessageSid', MESSAGE_SID);
      const twilioStatus = params.MessageStatus ?? params.SmsStatus;
      const status = twilioStatus ? fromTwilioStatus(twilioStatus) : undefined;
      if (!status) throw new AppError('bad_request', 'field MessageStatus is missing or unknown');
      const report: StatusReport = {
        messageSid,
        accountId: account.id,
        status,
        errorCode:
          params.ErrorCode && ERROR_CODE.test(params.ErrorCode) ? Number(params.ErrorCode) : null,
        errorMessage: params.ErrorMessage ?? null,
      };
      // The callback can overtake the dispatcher storing the SID Twilio just returned: then
      // it is held for the dispatcher, while the account has a send it awaits the answer
      // of. A last look covers a SID stored between the first and the hold.
      const known =
        (await statusReports.submit(report)) ||
        (await holdStatusReport(deps.db, report)) ||
        (await statusReports.submit(report));
      if (!known) {
        throw new AppError('forbidden', `no message ${messageSid} of account ${accountSid}`);
      }
      return reply.status(204).send();
    } catch (error) {
      return refuse(request, reply, error);
    }
  });
}

/**
 * The number whose conversation a text belongs to. Written through a Messaging Service, it
 * joins the customer's open conversation on any number of the service (Twilio may answer
 * from another number of the pool than the one the customer wrote to); else it is the
 * number written to.
 */
async function numberOfConversation(
  deps: WebhookDeps,
  addressed: NumberRow,
  service: string | undefined,
  from: string,
): Promise<NumberRow> {
  if (!service || addressed.messagingServiceSid !== service) return addressed;
  const numberId = await numberWithOpenConversationInService(deps.db, service, from);
  if (!numberId || numberId === addressed.id) return addressed;
  return deps.configCache.get(`number-by-id:${numberId}`, () => getNumber(deps.db, numberId));
}

function mediaOf(params: Record<string, string>): InboundMessage['media'] {
  const count = Number.parseInt(params.NumMedia ?? '0', 10);
  if (!Number.isInteger(count) || count < 0 || count > 10) {
    throw new AppError('bad_request', 'field NumMedia is malformed');
  }
  return Array.from({ length: count }, (_, i) => ({
    url: required(params, `MediaUrl${i}`),
    contentType: params[`MediaContentType${i}`] ?? 'application/octet-stream',
  }));
}

/**
 * What Twilio tells of the customer, for their contact: where the carrier places them, their
 * WhatsApp profile name, and the ad or post a WhatsApp conversation started from.
 */
function locationOf(params: Record<string, string>): Record<string, string> {
  const location: Record<string, string> = {};
  for (const field of [
    'FromCity',
    'FromState',
    'FromZip',
    'FromCountry',
    'ProfileName',
    'ReferralHeadline',
    'ReferralSourceType',
    'ReferralSourceUrl',
  ]) {
    const value = params[field];
    if (value) location[field.replace(/^From/, '').replace(/^./, (c) => c.toLowerCase())] = value;
  }
  return location;
}
