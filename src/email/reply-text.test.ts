import { describe, expect, it } from 'vitest';
import { replyText } from './reply-text.js';

describe('replyText', () => {
  it('keeps the new text above a signature', () => {
    expect(replyText('Your car is ready.\n\n-- \nAda Lovelace\nService desk\n')).toBe(
      'Your car is ready.',
    );
  });

  it('drops the quoted message after "On … wrote:", on one line or two', () => {
    expect(
      replyText('Pickup at 10.\n\nOn Tue, 1 Dec 2026, Bob <bob@example.com> wrote:\n> When?\n'),
    ).toBe('Pickup at 10.');
    expect(
      replyText(
        'Pickup at 10.\r\n\r\nOn Tue, 1 Dec 2026 at 09:40, Bob Builder\r\n<bob@example.com> wrote:\r\n> When?',
      ),
    ).toBe('Pickup at 10.');
  });

  it('drops ">" quoted lines wherever they are', () => {
    expect(replyText('> Is it ready?\nYes, come by.\n> Thanks')).toBe('Yes, come by.');
  });

  it('drops mobile footers, Outlook header blocks and separators', () => {
    expect(replyText('See you then.\n\nSent from my iPhone')).toBe('See you then.');
    expect(replyText('See you then.\nGet Outlook for Android')).toBe('See you then.');
    expect(
      replyText(
        'Confirmed.\n\nFrom: Bob <bob@example.com>\nSent: Tuesday, December 1, 2026 9:40 AM\nTo: Ada\nSubject: RE: pickup\n\nEarlier text',
      ),
    ).toBe('Confirmed.');
    expect(replyText('Confirmed.\n________________________________\nFrom: Bob')).toBe('Confirmed.');
    expect(replyText('Confirmed.\n-----Original Message-----\nHi')).toBe('Confirmed.');
  });

  it('keeps a line that only mentions "From:" or "On" inside the text', () => {
    expect(replyText('On Monday we open at 9.\nFrom: the service desk')).toBe(
      'On Monday we open at 9.\nFrom: the service desk',
    );
  });

  it('is empty when nothing but quoted text and a signature is left', () => {
    expect(replyText('> old\n\n-- \nAda')).toBe('');
  });
});
