import { describe, expect, it } from 'vitest';
import {
  addressOnChannel,
  businessMayStart,
  channelOfAddress,
  channelOfKind,
  DEFAULT_SEND_RATE,
  inferNumberKind,
  normaliseAddress,
  withoutChannelPrefix,
} from './addresses.js';

describe('Messenger addresses', () => {
  it('are kept as messenger:<digits>, whatever the case and spaces typed', () => {
    expect(normaliseAddress('messenger:104123456789012')).toBe('messenger:104123456789012');
    expect(normaliseAddress('  Messenger: 104123456789012 ')).toBe('messenger:104123456789012');
    expect(normaliseAddress('messenger:')).toBeUndefined();
    expect(normaliseAddress('messenger:+15551234567')).toBeUndefined();
    expect(normaliseAddress('messenger:my.page')).toBeUndefined();
  });

  it('are on the Messenger channel, as are numbers of that kind', () => {
    expect(channelOfAddress('messenger:104123456789012')).toBe('messenger');
    expect(inferNumberKind('messenger:104123456789012')).toBe('messenger');
    expect(channelOfKind('messenger')).toBe('messenger');
    expect(addressOnChannel('2468013579', 'messenger')).toBe('messenger:2468013579');
    expect(withoutChannelPrefix('messenger:2468013579')).toBe('2468013579');
    expect(DEFAULT_SEND_RATE.messenger).toBeGreaterThan(0);
    expect(businessMayStart('messenger')).toBe(false);
  });

  it('leave the other channels as they were', () => {
    expect(normaliseAddress('WhatsApp:+1 555 123 4567')).toBe('whatsapp:+15551234567');
    expect(normaliseAddress('12345')).toBe('12345');
    expect(channelOfAddress('whatsapp:+15551234567')).toBe('whatsapp');
    expect(channelOfAddress('+15551234567')).toBe('sms');
    expect(inferNumberKind('+18005551234')).toBe('toll-free');
    expect(channelOfKind('short-code')).toBe('sms');
    expect(withoutChannelPrefix('whatsapp:+15551234567')).toBe('+15551234567');
    expect(addressOnChannel('+15551234567', 'sms')).toBe('+15551234567');
    expect(businessMayStart('sms') && businessMayStart('whatsapp')).toBe(true);
  });
});
