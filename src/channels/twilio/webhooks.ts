/** Where Twilio posts incoming messages: the route listens here, and numbers are pointed here. */
export const WEBHOOK_PATH = '/webhooks/twilio/messages';
/** Where Twilio posts a sent message's status callbacks. */
export const STATUS_CALLBACK_PATH = '/webhooks/twilio/status';

/** The URLs Twilio is told to call, under Parley's public URL. */
export interface WebhookUrls {
  webhookUrl: string;
  statusCallbackUrl: string;
}

export function webhookUrls(publicUrl: string): WebhookUrls {
  return {
    webhookUrl: `${publicUrl}${WEBHOOK_PATH}`,
    statusCallbackUrl: `${publicUrl}${STATUS_CALLBACK_PATH}`,
  };
}
