import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findAccountBySid, getAccountCredentials } from '../admin/accounts.js';
import { findNumberForWebhook, STATUS_CALLBACK_PATH, WEBHOOK_PATH } from '../admin/numbers.js';
import type { SecretBox } from '../admin/secret-box.js';
import { verifyTwilioSignature } from '../channels/twilio/signature.js';
import type { Db } from '../db/store.js';
import {
  advanceMessageStatus,
  findMessageByTwilioSid,
  fromTwilioStatus,
} from '../outbound/delivery-status.js';
import { type InboundMessage, receiveInbound } from './receive.js';

/** Work the webhook leaves due for after its answer; each kick is only a hint to a worker. */
export interface InboundKicks {
  flowDue(conversationId: string): void;
  mediaDue(): void;
  outboxDue(): void;
}

export interface WebhookDeps {
  db: Db;
  secretBox: SecretBox;
  publicUrl: string;
  kicks: InboundKicks;
}

const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
const MESSAGE_SID = /^(SM|MM)[0-9a-f]{32}$/;
const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;

class WebhookRefused extends Error {
  constructor(
    readonly status: 400 | 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

/** Twilio's form parameters as a flat map; a repeated or non-text field is malformed. */
function formParams(body: unknown): Record<string, string> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new WebhookRefused(400, 'body is not a form');
  }
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value !== 'string')
      throw new WebhookRefused(400, `field ${key} is not a single value`);
    params[key] = value;
  }
  return params;
}

function required(params: Record<string, string>, field: string, pattern?: RegExp): string {
  const value = params[field];
  if (!value || (pattern && !pattern.test(value))) {
    throw new WebhookRefused(400, `field ${field} is missing or malformed`);
  }
  return value;
}

function verify(
  request: FastifyRequest,
  deps: WebhookDeps,
  authToken: string,
  params: Record<string, string>,
): void {
  const outcome = verifyTwilioSignature({
    authToken,
    signature: request.headers['x-twilio-signature'] as string | undefined,
    publicUrl: deps.publicUrl,
    pathAndQuery: request.url,
    params,
  });
  if (outcome === 'missing') throw new WebhookRefused(403, 'no X-Twilio-Signature header');
  if (outcome === 'mismatch') {
    throw new WebhookRefused(
      403,
      `X-Twilio-Signature does not match ${deps.publicUrl}${request.url} with the account's auth token`,
    );
  }
}

function refuse(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  if (!(error instanceof WebhookRefused)) throw error;
  request.log.warn({ status: error.status, reason: error.message }, 'Twilio webhook refused');
  return reply.status(error.status).type('text/plain').send(error.message);
}

/** Inbound messages and status callbacks from Twilio, each checked against its signature. */
export function registerWebhookRoutes(app: FastifyInstance, deps: WebhookDeps): void {
  app.post(WEBHOOK_PATH, { schema: { hide: true } }, async (request, reply) => {
    try {
      const params = formParams(request.body);
      const messageSid = required(params, 'MessageSid', MESSAGE_SID);
      const accountSid = required(params, 'AccountSid', ACCOUNT_SID);
      const from = required(params, 'From');
      const to = required(params, 'To');
      const number = await findNumberForWebhook(deps.db, {
        to,
        messagingServiceSid: params.MessagingServiceSid,
      });
      if (!number) throw new WebhookRefused(404, `no number ${to} is configured in Parley`);
      const credentials = await getAccountCredentials(deps.db, deps.secretBox, number.accountId);
      verify(request, deps, credentials.authToken, params);
      if (accountSid !== credentials.accountSid) {
        throw new WebhookRefused(403, `number ${number.address} does not belong to ${accountSid}`);
      }
      const inbound: InboundMessage = {
        messageSid,
        from,
        to,
        body: params.Body ?? '',
        media: mediaOf(params),
        optOutType: params.OptOutType,
        location: locationOf(params),
      };
      const outcome = await receiveInbound(deps.db, number, inbound);
      if (outcome.duplicate) {
        request.log.info({ messageSid }, 'duplicate delivery of a stored message');
      } else {
        const { conversationId, flowDue, mediaPending } = outcome;
        if (flowDue && conversationId) deps.kicks.flowDue(conversationId);
        if (mediaPending) deps.kicks.mediaDue();
        deps.kicks.outboxDue();
      }
      return reply.type('text/xml').send(EMPTY_TWIML);
    } catch (error) {
      return refuse(request, reply, error);
    }
  });

  app.post(STATUS_CALLBACK_PATH, { schema: { hide: true } }, async (request, reply) => {
    try {
      const params = formParams(request.body);
      const messageSid = required(params, 'MessageSid', MESSAGE_SID);
      const accountSid = required(params, 'AccountSid', ACCOUNT_SID);
      const twilioStatus = params.MessageStatus ?? params.SmsStatus;
      const status = twilioStatus ? fromTwilioStatus(twilioStatus) : undefined;
      if (!status) throw new WebhookRefused(400, 'field MessageStatus is missing or unknown');
      const account = await findAccountBySid(deps.db, deps.secretBox, accountSid);
      if (!account)
        throw new WebhookRefused(404, `account ${accountSid} is not configured in Parley`);
      verify(request, deps, account.authToken, params);
      // The callback can overtake the dispatcher storing the SID Twilio just returned.
      let message = await findMessageByTwilioSid(deps.db, messageSid);
      for (let attempt = 0; !message && attempt < 10; attempt++) {
        await delay(200);
        message = await findMessageByTwilioSid(deps.db, messageSid);
      }
      if (!message) throw new WebhookRefused(404, `no message ${messageSid} in Parley`);
      const errorCode = params.ErrorCode ? Number.parseInt(params.ErrorCode, 10) : null;
      await deps.db.transaction((tx) =>
        advanceMessageStatus(tx, message.id, {
          status,
          errorCode: Number.isNaN(errorCode) ? null : errorCode,
          errorMessage: params.ErrorMessage ?? null,
        }),
      );
      return reply.status(204).send();
    } catch (error) {
      return refuse(request, reply, error);
    }
  });
}

function mediaOf(params: Record<string, string>): InboundMessage['media'] {
  const count = Number.parseInt(params.NumMedia ?? '0', 10);
  if (!Number.isInteger(count) || count < 0 || count > 10) {
    throw new WebhookRefused(400, 'field NumMedia is malformed');
  }
  return Array.from({ length: count }, (_, i) => ({
    url: required(params, `MediaUrl${i}`),
    contentType: params[`MediaContentType${i}`] ?? 'application/octet-stream',
  }));
}

function locationOf(params: Record<string, string>): Record<string, string> {
  const location: Record<string, string> = {};
  for (const field of ['FromCity', 'FromState', 'FromZip', 'FromCountry', 'ProfileName']) {
    const value = params[field];
    if (value) location[field.replace(/^From/, '').replace(/^./, (c) => c.toLowerCase())] = value;
  }
  return location;
}
