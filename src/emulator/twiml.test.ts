import { describe, expect, it } from 'vitest';
import { parseMessagingTwiml, TwimlParseError } from './twiml.js';

describe('parseMessagingTwiml', () => {
  it('reads plain and nested Message verbs with entities and CDATA', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
      <Response>
        <!-- greeting -->
        <Message statusCallback="https://example.test/cb">Hi &amp; welcome &#x1F600;</Message>
        <Message to="+15550001111"><Body><![CDATA[a <b> c]]></Body><Media>https://example.test/a.png</Media><Media> https://example.test/b.jpg </Media></Message>
      </Response>`;
    expect(parseMessagingTwiml(xml)).toEqual([
      {
        body: 'Hi & welcome 😀',
        media: [],
        to: null,
        from: null,
        statusCallback: 'https://example.test/cb',
      },
      {
        body: 'a <b> c',
        media: ['https://example.test/a.png', 'https://example.test/b.jpg'],
        to: '+15550001111',
        from: null,
        statusCallback: null,
      },
    ]);
  });

  it('accepts an empty Response', () => {
    expect(parseMessagingTwiml('<Response/>')).toEqual([]);
  });

  it('rejects documents that are not TwiML', () => {
    expect(() => parseMessagingTwiml('OK')).toThrow(TwimlParseError);
    expect(() => parseMessagingTwiml('<Reply><Message>x</Message></Reply>')).toThrow(
      TwimlParseError,
    );
    expect(() => parseMessagingTwiml('<Response><Message>x</Response>')).toThrow(TwimlParseError);
    expect(() => parseMessagingTwiml('<Response><Message>&bogus;</Message></Response>')).toThrow(
      TwimlParseError,
    );
  });
});
