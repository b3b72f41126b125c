/**
 * Load of signed incoming-message webhooks, as Twilio sends them, for the benchmarks: every
 * request a fresh MessageSid from one of `handsets` customer numbers to one business number.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import twilio from 'twilio';

export interface WebhookLoad {
  /** Where the requests go. */
  url: string;
  /** The URL Twilio signs, as Parley is configured to see itself. */
  publicUrl: string;
  accountSid: string;
  authToken: string;
  businessNumber: string;
  connections: number;
  seconds: number;
  handsets: number;
}

export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

export async function sendSignedWebhooks(load: WebhookLoad): Promise<LoadFigures> {
  let n = 0;
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: load.seconds,
    requests: [
      {
        method: 'POST',
        path: '/webhooks/twilio/messages',
        setupRequest: (request) => {
          n += 1;
          const params = {
            MessageSid: `SM${randomBytes(16).toString('hex')}`,
            AccountSid: load.accountSid,
            From: `+1555${String(1_000_000 + (n % load.handsets)).padStart(7, '0')}`,
            To: load.businessNumber,
            Body: `bench message ${n}`,
            NumMedia: '0',
          };
          const signature = twilio.getExpectedTwilioSignature(
            load.authToken,
            `${load.publicUrl}/webhooks/twilio/messages`,
            params,
          );
          return {
            ...request,
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-twilio-signature': signature,
            },
            body: new URLSearchParams(params).toString(),
          };
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
  };
}
