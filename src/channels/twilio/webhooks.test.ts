import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import {
  accountSidOf,
  addresseeOf,
  parseInboundMessage,
  parseStatusCallback,
  readWebhookForm,
  webhookUrls,
} from './webhooks.js';

const ACCOUNT = `AC${'a'.repeat(32)}`;
const MESSAGE = `SM${'b'.repeat(32)}`;

/** The AppError's code and message a parse throws. */
function refusal(parse: () => unknown): { code: string; message: string } | undefined {
  try {
    parse();
    return undefined;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { code: error.code, message: error.message };
  }
}

describe('Twilio webhooks', () => {
  it('gives Twilio the URLs under the public URL, the fallback under the fallback URL', () => {
    expect(webhookUrls('https://parley.example')).toEqual({
      webhookUrl: 'https://parley.example/webhooks/twilio/messages',
      fallbackUrl: 'https://parley.example/webhooks/twilio/messages',
      statusCallbackUrl: 'https://parley.example/webhooks/twilio/status',
    });
    expect(webhookUrls('https://a.parley.example', 'https://lb.parley.example')).toMatchObject({
      webhookUrl: 'https://a.parley.example/webhooks/twilio/messages',
      fallbackUrl: 'https://lb.parley.example/webhooks/twilio/messages',
    });
  });

  it('reads a form, keeping what was signed and replacing what PostgreSQL cannot store', () => {
    const form = readWebhookForm({ Body: 'a\u0000b', To: '+15550001111' });
    expect(form.signed.Body).toBe('a\u0000b');
    expect(form.params.Body).toBe('a\uFFFDb');
    expect(form.replaced).toEqual(['Body']);
    expect(refusal(() => readWebhookForm({ To: ['+1', '+2'] }))).toEqual({
      code: 'bad_request',
      message: 'field To is not a single value',
    });
    expect(refusal(() => readWebhookForm('To=+1'))?.message).toBe('body is not a form');
  });

  it('tells whom a message is for and which account a callback names, before checking them', () => {
    const form = readWebhookForm({ To: '+15550001111', AccountSid: 'AC1' });
    expect(addresseeOf(form)).toEqual({ to: '+15550001111', messagingServiceSid: undefined });
    expect(accountSidOf(form)).toBeUndefined();
    expect(accountSidOf(readWebhookForm({ AccountSid: ACCOUNT }))).toBe(ACCOUNT);
  });

  it("turns an incoming message into Parley's, its media and what Twilio knows of the sender", () => {
    const message = parseInboundMessage(
      readWebhookForm({
        MessageSid: MESSAGE,
        From: 'whatsapp:+15550002222',
        To: 'whatsapp:+15550001111',
        Body: 'hello',
        NumMedia: '1',
        MediaUrl0: 'https://api.twilio.com/media',
        FromCity: 'Austin',
        ProfileName: 'Ana',
        ReferralSourceUrl: 'https://ad.example',
      }),
    );
    expect(message).toEqual({
      messageSid: MESSAGE,
      from: 'whatsapp:+15550002222',
      to: 'whatsapp:+15550001111',
      body: 'hello',
      media: [{ url: 'https://api.twilio.com/media', contentType: 'application/octet-stream' }],
      optOutType: undefined,
      location: { city: 'Austin', profileName: 'Ana', referralSourceUrl: 'https://ad.example' },
    });
  });

  it('names the field an incoming message lacks or has malformed', () => {
    const valid = { MessageSid: MESSAGE, From: '+15550002222', To: '+15550001111' };
    const fault = (fields: Record<string, string>) =>
      refusal(() => parseInboundMessage(readWebhookForm({ ...valid, ...fields })));
    expect(fault({ From: '' })?.message).toBe('field From is missing or malformed');
    expect(fault({ MessageSid: 'SM1' })?.message).toBe('field MessageSid is missing or malformed');
    expect(fault({ To: `+${'1'.repeat(256)}` })?.message).toBe(
      'field To is longer than 256 characters',
    );
    expect(fault({ NumMedia: '11' })?.message).toBe('field NumMedia is malformed');
    expect(fault({ NumMedia: '1' })?.message).toBe('field MediaUrl0 is missing or malformed');
  });

  it("turns a status callback into Parley's status, dropping an error code that is no number", () => {
    const callback = (fields: Record<string, string>) =>
      parseStatusCallback(readWebhookForm({ MessageSid: MESSAGE, ...fields }));
    expect(callback({ MessageStatus: 'canceled', ErrorCode: '30008x' })).toEqual({
      messageSid: MESSAGE,
      status: 'failed',
      errorCode: null,
      errorMessage: null,
      carrier: null,
    });
    expect(callback({ SmsStatus: 'undelivered', ErrorCode: '30003' })).toMatchObject({
      status: 'undelivered',
      errorCode: 30003,
    });
    // What carried it: an RCS sender, a phone number (an RCS service's fallback), or neither.
    expect(callback({ MessageStatus: 'sent', From: 'rcs:acme_agent' }).carrier).toBe('rcs');
    expect(callback({ MessageStatus: 'sent', From: '+15551234567' }).carrier).toBe('phone');
    expect(callback({ MessageStatus: 'sent', From: 'whatsapp:+15551234567' }).carrier).toBe(null);
    expect(refusal(() => callback({ MessageStatus: 'lost' }))?.message).toBe(
      'field MessageStatus is missing or unknown',
    );
  });
});
