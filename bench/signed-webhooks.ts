/**
 * Load of signed incoming-message webhooks, as Twilio sends them, for the benchmarks: every
 * request a fresh MessageSid to one business number, from one of `handsets` customer
 * numbers whose conversations are opened first (`existing`), or from a new customer each
 * time (`new`: every request opens a conversation and runs the flow's hand-over).
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
  workload: 'existing' | 'new';
  /** Requests per second offered in all, whatever the answers' pace; unset: as fast as answered. */
  rate?: number | undefined;
}

export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const PATH = '/webhooks/twilio/messages';

export async function sendSignedWebhooks(load: WebhookLoad): Promise<LoadFigures> {
  // Each run's customers are its own, so runs against one store never share conversations.
  const prefix = String(Math.floor(Math.random() * 900) + 100);
  const handset = (i: number) => `+1${prefix}${String(i).padStart(7, '0')}`;
  const request = (from: () => string) => ({
    method: 'POST' as const,
    path: PATH,
    setupRequest: (req: autocannon.Request) => {
      const params = {
        MessageSid: `SM${randomBytes(16).toString('hex')}`,
        AccountSid: load.accountSid,
        From: from(),
        To: load.businessNumber,
        Body: 'Hi, is my order on its way?',
        NumMedia: '0',
      };
      const signature = twilio.getExpectedTwilioSignature(
        load.authToken,
        `${load.publicUrl}${PATH}`,
        params,
      );
      return {
        ...req,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signature,
        },
        body: new URLSearchParams(params).toString(),
      };
    },
  });
  let n = 0;
  if (load.workload === 'existing') {
    // Opens each handset's conversation, one text each, before anything is measured.
    const warm = await autocannon({
      url: load.url,
      connections: Math.min(load.connections, load.handsets, 20),
      amount: load.handsets,
      requests: [request(() => handset(n++))],
    });
    if (warm.non2xx + warm.errors > 0) {
      throw new Error(
        `opening ${load.handsets} conversations failed ${warm.non2xx + warm.errors} times`,
      );
    }
  }
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: load.seconds,
    ...(load.rate && { overallRate: load.rate }),
    requests: [
      request(() =>
        load.workload === 'existing' ? handset(n++ % load.handsets) : handset(1_000_000 + n++),
      ),
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
  };
}
