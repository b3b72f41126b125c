import type { NumberKind } from '../../addresses.js';
import type { NumberCapability, NumberRow } from '../../admin/numbers.js';
import { NUMBER_CAPABILITIES } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { describeTwilioError, type TwilioClient } from './client.js';
import type { WebhookUrls } from './webhooks.js';

/** The kinds of Twilio resource whose webhooks "Set in Twilio" points at Parley. */
export const CONFIGURED_RESOURCES = [
  'messaging-service',
  'whatsapp-sender',
  'short-code',
  'number',
] as const;

/** Why "Set in Twilio" cannot point a Messenger page without a Messaging Service. */
export const MESSENGER_NEEDS_SERVICE =
  "Twilio sets a Messenger page's webhook only in its Console (Channels → Facebook Messenger → the page's Callback URL), not through its API: paste the webhook URL there, or add the page to a Messaging Service and give this number that service's SID, then Set in Twilio points the service at Parley";

/** What "Set in Twilio" changed: which kind of Twilio resource, and its SID. */
export interface ConfiguredWebhooks extends WebhookUrls {
  configured: (typeof CONFIGURED_RESOURCES)[number];
  sid: string;
  /** The Messaging Service's RCS sender (`rcs:…`), through which Twilio tries RCS first. */
  rcsSender: string | null;
}

/** The webhook URLs a Twilio resource has now, as Twilio answers them; null: none set. */
export interface TwilioWebhooks {
  configured: (typeof CONFIGURED_RESOURCES)[number];
  sid: string;
  webhookUrl: string | null;
  fallbackUrl: string | null;
  /** Null also for a short code, which has no status callback of its own. */
  statusCallbackUrl: string | null;
}

/**
 * Points a number's webhooks — incoming messages, their fallback, status callbacks — at
 * Parley through Twilio's API: its Messaging Service's when it has one, a WhatsApp sender's
 * (Senders API), a short code's (ShortCodes, which has no status callback: each message names
 * its own), else the phone number's own. A Messenger page needs a Messaging Service: Twilio
 * keeps a page's own callback URL in the Console only (neither the Senders API nor a
 * phone-number resource covers Messenger), while a Messaging Service that holds the page as
 * a channel sender takes its webhooks through the API. 422 when Twilio has no such number or
 * sender on the account, or a page has no Messaging Service; 503 when Twilio does not take
 * the change.
 */
export async function configureNumberWebhooks(
  client: TwilioClient,
  number: Pick<NumberRow, 'address' | 'kind' | 'messagingServiceSid'>,
  urls: WebhookUrls,
): Promise<ConfiguredWebhooks> {
  const { webhookUrl, fallbackUrl, statusCallbackUrl } = urls;
  return askTwilio('did not take the change', async () => {
    const resource = await webhookResourceOf(client, number);
    const result = { sid: resource.sid, webhookUrl, fallbackUrl, statusCallbackUrl };
    switch (resource.configured) {
      case 'messaging-service':
        await client.messaging.v1.services(resource.sid).update({
          inboundRequestUrl: webhookUrl,
          inboundMethod: 'POST',
          fallbackUrl,
          fallbackMethod: 'POST',
          statusCallback: statusCallbackUrl,
          useInboundWebhookOnNumber: false,
        });
        return {
          ...result,
          configured: 'messaging-service',
          rcsSender: await rcsSenderOf(client, resource.sid),
        };
      case 'whatsapp-sender':
        await pointWhatsAppSender(client, resource.sid, urls);
        return { ...result, configured: 'whatsapp-sender', rcsSender: null };
      case 'short-code':
        await client.api.v2010.account.shortCodes(resource.sid).update({
          smsUrl: webhookUrl,
          smsMethod: 'POST',
          smsFallbackUrl: fallbackUrl,
          smsFallbackMethod: 'POST',
        });
        return { ...result, configured: 'short-code', rcsSender: null };
      case 'number':
        await client.incomingPhoneNumbers(resource.sid).update({
          smsUrl: webhookUrl,
          smsMethod: 'POST',
          smsFallbackUrl: fallbackUrl,
          smsFallbackMethod: 'POST',
          statusCallback: statusCallbackUrl,
        });
        return { ...result, configured: 'number', rcsSender: null };
    }
  });
}

/**
 * The webhook URLs Twilio has for the number now (read back from the resource "Set in
 * Twilio" points), to compare with Parley's. Errors as configureNumberWebhooks.
 */
export async function readNumberWebhooks(
  client: TwilioClient,
  number: Pick<NumberRow, 'address' | 'kind' | 'messagingServiceSid'>,
): Promise<TwilioWebhooks> {
  return askTwilio('could not be read', () => webhookResourceOf(client, number));
}

/** Whether Twilio's webhooks for the number are Parley's (a short code has no status callback). */
export function webhooksMatch(found: TwilioWebhooks, urls: WebhookUrls): boolean {
  const callbackMatches =
    found.configured === 'short-code' || found.statusCallbackUrl === urls.statusCallbackUrl;
  return (
    found.webhookUrl === urls.webhookUrl &&
    found.fallbackUrl === urls.fallbackUrl &&
    callbackMatches
  );
}

/**
 * What Twilio knows of a number an admin adds: its SID on the account and what it can carry.
 * A phone number is an IncomingPhoneNumber (with SMS and MMS capabilities), a short code a
 * ShortCode (Twilio lists no capabilities for it), a WhatsApp sender a sender of the Senders
 * API. A Messenger page is found only as a channel sender of its Messaging Service: Twilio's
 * API lists pages nowhere else (they are connected in its Console), so a page without a
 * service is not looked up. 400 naming `address` when the account has no such number; 502
 * when Twilio cannot be asked.
 */
export async function lookUpNumber(
  client: TwilioClient,
  number: Pick<NumberRow, 'address' | 'kind' | 'messagingServiceSid'>,
): Promise<{ twilioSid: string | null; capabilities: NumberCapability[] | null }> {
  const serviceSid = number.messagingServiceSid;
  if (number.kind === 'messenger' && !serviceSid) return { twilioSid: null, capabilities: null };
  let found: { twilioSid: string; capabilities: NumberCapability[] | null } | undefined;
  try {
    if (number.kind === 'messenger' && serviceSid) {
      const senders = await client.messaging.v1.services(serviceSid).channelSenders.list();
      const page = senders.find((one) => one.sender === number.address);
      found = page && { twilioSid: page.sid, capabilities: null };
    } else if (number.kind === 'whatsapp') {
      const sender = await whatsAppSenderOf(client, number.address);
      found = sender && { twilioSid: sender.sid, capabilities: null };
    } else if (number.kind === 'short-code') {
      const code = await shortCodeOf(client, number.address);
      found = code && { twilioSid: code.sid, capabilities: null };
    } else {
      const incoming = await incomingNumberOf(client, number.address);
      found = incoming && {
        twilioSid: incoming.sid,
        capabilities: NUMBER_CAPABILITIES.filter((one) => incoming.capabilities?.[one] === true),
      };
    }
  } catch (error) {
    throw new AppError(
      'bad_gateway',
      `Twilio could not be asked whether the account has ${number.address}: ${describeTwilioError(error).message}. Nothing was saved; try again`,
    );
  }
  if (!found) {
    throw new AppError(
      'bad_request',
      number.kind === 'messenger'
        ? `Twilio has no Messenger page ${number.address} in Messaging Service ${serviceSid}: add the page to that service in Twilio's Console first, or give the service that has it`
        : `Twilio has no ${WHAT_KIND_IS[number.kind]} ${number.address} on this account: buy or port it there first, or choose the account that has it`,
      'address',
    );
  }
  return found;
}

const WHAT_KIND_IS: Record<Exclude<NumberKind, 'messenger'>, string> = {
  'long-code': 'phone number',
  'toll-free': 'phone number',
  'short-code': 'short code',
  whatsapp: 'WhatsApp sender',
};

/** Runs Twilio calls; a failure other than Parley's own becomes a 503 saying what failed. */
async function askTwilio<T>(failed: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppError) throw error;
    const failure = describeTwilioError(error);
    throw new AppError('unavailable', `Twilio ${failed}: ${failure.message}`);
  }
}

/** The Twilio resource that holds the number's webhooks, as Twilio has it now. */
async function webhookResourceOf(
  client: TwilioClient,
  number: Pick<NumberRow, 'address' | 'kind' | 'messagingServiceSid'>,
): Promise<TwilioWebhooks> {
  if (number.messagingServiceSid) {
    const service = await client.messaging.v1.services(number.messagingServiceSid).fetch();
    return {
      configured: 'messaging-service',
      sid: service.sid,
      webhookUrl: service.inboundRequestUrl ?? null,
      fallbackUrl: service.fallbackUrl ?? null,
      statusCallbackUrl: service.statusCallback ?? null,
    };
  }
  if (number.kind === 'messenger') {
    throw new AppError('unprocessable', MESSENGER_NEEDS_SERVICE);
  }
  if (number.kind === 'whatsapp') {
    // A WhatsApp sender's webhooks are on the sender (Senders API), not on a number.
    const sender = await whatsAppSenderOf(client, number.address);
    if (!sender) {
      throw new AppError(
        'unprocessable',
        `Twilio has no WhatsApp sender ${number.address} on this account`,
      );
    }
    return {
      configured: 'whatsapp-sender',
      sid: sender.sid,
      webhookUrl: sender.webhook?.callbackUrl ?? null,
      fallbackUrl: sender.webhook?.fallbackUrl ?? null,
      statusCallbackUrl: sender.webhook?.statusCallbackUrl ?? null,
    };
  }
  if (number.kind === 'short-code') {
    const code = await shortCodeOf(client, number.address);
    if (!code) {
      throw new AppError(
        'unprocessable',
        `Twilio has no short code ${number.address} on this account`,
      );
    }
    return {
      configured: 'short-code',
      sid: code.sid,
      webhookUrl: code.smsUrl ?? null,
      fallbackUrl: code.smsFallbackUrl ?? null,
      statusCallbackUrl: null,
    };
  }
  const incoming = await incomingNumberOf(client, number.address);
  if (!incoming) {
    throw new AppError('unprocessable', `Twilio has no number ${number.address} on this account`);
  }
  return {
    configured: 'number',
    sid: incoming.sid,
    webhookUrl: incoming.smsUrl ?? null,
    fallbackUrl: incoming.smsFallbackUrl ?? null,
    statusCallbackUrl: incoming.statusCallback ?? null,
  };
}

/** The account's IncomingPhoneNumber with exactly this number (Twilio's filter also matches parts). */
async function incomingNumberOf(client: TwilioClient, address: string) {
  const found = await client.incomingPhoneNumbers.list({ phoneNumber: address, limit: 20 });
  return found.find((one) => one.phoneNumber === address);
}

async function shortCodeOf(client: TwilioClient, code: string) {
  const found = await client.api.v2010.account.shortCodes.list({ shortCode: code, limit: 20 });
  return found.find((one) => one.shortCode === code);
}

async function whatsAppSenderOf(client: TwilioClient, senderId: string) {
  const senders = await client.messaging.v2.channelsSenders.list({ channel: 'whatsapp' });
  return senders.find((one) => one.senderId === senderId);
}

/**
 * The Messaging Service's RCS sender, if it has one. An account without the channel senders
 * feature answers an error: no RCS sender, and the webhooks just set stay set.
 */
async function rcsSenderOf(client: TwilioClient, serviceSid: string): Promise<string | null> {
  try {
    const senders = await client.messaging.v1.services(serviceSid).channelSenders.list();
    return senders.find((one) => /^rcs:/i.test(one.sender))?.sender ?? null;
  } catch {
    return null;
  }
}

/**
 * Points a WhatsApp sender's webhooks (Twilio's Senders API) at the given URLs. The library
 * sends the update body as given, and the API reads it as snake_case JSON.
 */
async function pointWhatsAppSender(
  client: TwilioClient,
  senderSid: string,
  urls: WebhookUrls,
): Promise<void> {
  const body = {
    webhook: {
      callback_url: urls.webhookUrl,
      callback_method: 'POST',
      fallback_url: urls.fallbackUrl,
      fallback_method: 'POST',
      status_callback_url: urls.statusCallbackUrl,
      status_callback_method: 'POST',
    },
  };
  type UpdateBody = Parameters<
    ReturnType<TwilioClient['messaging']['v2']['channelsSenders']>['update']
  >[0];
  await client.messaging.v2.channelsSenders(senderSid).update(body as unknown as UpdateBody);
}
