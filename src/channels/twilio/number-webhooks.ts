import type { NumberRow } from '../../admin/numbers.js';
import { AppError } from '../../errors.js';
import { describeTwilioError, type TwilioClient } from './client.js';
import type { WebhookUrls } from './webhooks.js';

/** The kinds of Twilio resource whose webhooks "Set in Twilio" points at Parley. */
export const CONFIGURED_RESOURCES = ['messaging-service', 'whatsapp-sender', 'number'] as const;

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

/**
 * Points a number's webhooks at Parley through Twilio's API: its Messaging Service's when it
 * has one, a WhatsApp sender's (Senders API), else the phone number's own. A Messenger page
 * needs a Messaging Service: Twilio keeps a page's own callback URL in the Console only
 * (neither the Senders API nor a phone-number resource covers Messenger), while a Messaging
 * Service that holds the page as a channel sender takes its webhooks through the API. 422
 * when Twilio has no such number or sender on the account, or a page has no Messaging
 * Service; 503 when Twilio does not take the change.
 */
export async function configureNumberWebhooks(
  client: TwilioClient,
  number: Pick<NumberRow, 'address' | 'kind' | 'messagingServiceSid'>,
  urls: WebhookUrls,
): Promise<ConfiguredWebhooks> {
  const { webhookUrl, statusCallbackUrl } = urls;
  try {
    if (number.messagingServiceSid) {
      await client.messaging.v1.services(number.messagingServiceSid).update({
        inboundRequestUrl: webhookUrl,
        inboundMethod: 'POST',
        statusCallback: statusCallbackUrl,
        useInboundWebhookOnNumber: false,
      });
      return {
        configured: 'messaging-service',
        sid: number.messagingServiceSid,
        webhookUrl,
        statusCallbackUrl,
        rcsSender: await rcsSenderOf(client, number.messagingServiceSid),
      };
    }
    if (number.kind === 'messenger') {
      throw new AppError('unprocessable', MESSENGER_NEEDS_SERVICE);
    }
    if (number.kind === 'whatsapp') {
      // A WhatsApp sender's webhooks are on the sender (Senders API), not on a number.
      const sid = await pointWhatsAppSender(client, number.address, {
        callbackUrl: webhookUrl,
        statusCallbackUrl,
      });
      if (!sid) {
        throw new AppError(
          'unprocessable',
          `Twilio has no WhatsApp sender ${number.address} on this account`,
        );
      }
      return { configured: 'whatsapp-sender', sid, webhookUrl, statusCallbackUrl, rcsSender: null };
    }
    const [incoming] = await client.incomingPhoneNumbers.list({
      phoneNumber: number.address,
      limit: 1,
    });
    if (!incoming) {
      throw new AppError('unprocessable', `Twilio has no number ${number.address} on this account`);
    }
    await client.incomingPhoneNumbers(incoming.sid).update({
      smsUrl: webhookUrl,
      smsMethod: 'POST',
      statusCallback: statusCallbackUrl,
    });
    return {
      configured: 'number',
      sid: incoming.sid,
      webhookUrl,
      statusCallbackUrl,
      rcsSender: null,
    };
  } catch (error) {
    if (error instanceof AppError) throw error;
    const failure = describeTwilioError(error);
    throw new AppError('unavailable', `Twilio did not take the change: ${failure.message}`);
  }
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
 * Points a WhatsApp sender's webhooks (Twilio's Senders API) at the given URLs; returns the
 * sender's SID, or undefined when the account has no such sender. The library sends the
 * update body as given, and the API reads it as snake_case JSON.
 */
async function pointWhatsAppSender(
  client: TwilioClient,
  senderId: string,
  urls: { callbackUrl: string; statusCallbackUrl: string },
): Promise<string | undefined> {
  const senders = await client.messaging.v2.channelsSenders.list({ channel: 'whatsapp' });
  const sender = senders.find((one) => one.senderId === senderId);
  if (!sender) return undefined;
  const body = {
    webhook: {
      callback_url: urls.callbackUrl,
      callback_method: 'POST',
      status_callback_url: urls.statusCallbackUrl,
      status_callback_method: 'POST',
    },
  };
  type UpdateBody = Parameters<
    ReturnType<TwilioClient['messaging']['v2']['channelsSenders']>['update']
  >[0];
  await client.messaging.v2.channelsSenders(sender.sid).update(body as unknown as UpdateBody);
  return sender.sid;
}
