import { iso8601, rfc2822 } from './format.js';
import type { Account, MediaItem, Message, MessagingService, PhoneNumber } from './types.js';

const API = '/2010-04-01';
export const MESSAGING_HOST = 'https://messaging.twilio.com';

export function accountPath(accountSid: string): string {
  return `${API}/Accounts/${accountSid}`;
}

export function messageJson(m: Message): Record<string, unknown> {
  const base = `${accountPath(m.accountSid)}/Messages/${m.sid}`;
  return {
    account_sid: m.accountSid,
    api_version: '2010-04-01',
    body: m.body,
    date_created: rfc2822(m.dateCreated),
    date_sent: m.dateSent === null ? null : rfc2822(m.dateSent),
    date_updated: rfc2822(m.dateUpdated),
    direction: m.direction,
    error_code: m.errorCode,
    error_message: m.errorMessage,
    from: m.from,
    messaging_service_sid: m.messagingServiceSid,
    num_media: String(m.numMedia),
    num_segments: String(m.numSegments),
    price: null,
    price_unit: 'USD',
    sid: m.sid,
    status: m.status,
    subresource_uris: { media: `${base}/Media.json`, feedback: `${base}/Feedback.json` },
    to: m.to,
    uri: `${base}.json`,
  };
}

export function mediaJson(media: MediaItem): Record<string, unknown> {
  return {
    account_sid: media.accountSid,
    content_type: media.contentType,
    date_created: rfc2822(media.dateCreated),
    date_updated: rfc2822(media.dateCreated),
    parent_sid: media.messageSid,
    sid: media.sid,
    uri: `${accountPath(media.accountSid)}/Messages/${media.messageSid}/Media/${media.sid}.json`,
  };
}

const ACCOUNT_SUBRESOURCES: Record<string, string> = {
  addresses: 'Addresses',
  applications: 'Applications',
  available_phone_numbers: 'AvailablePhoneNumbers',
  balance: 'Balance',
  calls: 'Calls',
  incoming_phone_numbers: 'IncomingPhoneNumbers',
  keys: 'Keys',
  messages: 'Messages',
  notifications: 'Notifications',
  queues: 'Queues',
  recordings: 'Recordings',
  signing_keys: 'SigningKeys',
  usage: 'Usage',
};

export function accountJson(a: Account): Record<string, unknown> {
  const base = accountPath(a.sid);
  return {
    auth_token: a.authToken,
    date_created: rfc2822(a.dateCreated),
    date_updated: rfc2822(a.dateUpdated),
    friendly_name: a.friendlyName,
    owner_account_sid: a.sid,
    sid: a.sid,
    status: 'active',
    subresource_uris: Object.fromEntries(
      Object.entries(ACCOUNT_SUBRESOURCES).map(([k, v]) => [k, `${base}/${v}.json`]),
    ),
    type: 'Full',
    uri: `${base}.json`,
  };
}

/** Unset URLs and SIDs are null: the published schema types them as nullable URIs / SIDs. */
export function numberJson(n: PhoneNumber): Record<string, unknown> {
  const base = `${accountPath(n.accountSid)}/IncomingPhoneNumbers/${n.sid}`;
  return {
    account_sid: n.accountSid,
    address_requirements: 'none',
    address_sid: null,
    api_version: '2010-04-01',
    beta: false,
    bundle_sid: null,
    capabilities: {
      fax: false,
      mms: n.kind !== 'whatsapp',
      sms: true,
      voice: n.kind === 'long-code' || n.kind === 'toll-free',
    },
    date_created: rfc2822(n.dateCreated),
    date_updated: rfc2822(n.dateUpdated),
    emergency_address_sid: null,
    emergency_address_status: 'unregistered',
    emergency_status: 'Inactive',
    friendly_name: n.friendlyName,
    identity_sid: null,
    origin: 'twilio',
    phone_number: n.phoneNumber,
    sid: n.sid,
    sms_application_sid: null,
    sms_fallback_method: n.smsFallbackMethod,
    sms_fallback_url: n.smsFallbackUrl || null,
    sms_method: n.smsMethod,
    sms_url: n.smsUrl || null,
    status: 'in-use',
    status_callback: n.statusCallback || null,
    status_callback_method: n.statusCallbackMethod,
    subresource_uris: { assigned_add_ons: `${base}/AssignedAddOns.json` },
    trunk_sid: null,
    uri: `${base}.json`,
    voice_application_sid: null,
    voice_caller_id_lookup: false,
    voice_fallback_method: 'POST',
    voice_fallback_url: null,
    voice_method: 'POST',
    voice_receive_mode: 'voice',
    voice_url: null,
  };
}

function serviceUrl(sid: string): string {
  return `${MESSAGING_HOST}/v1/Services/${sid}`;
}

export function serviceJson(s: MessagingService): Record<string, unknown> {
  const url = serviceUrl(s.sid);
  return {
    account_sid: s.accountSid,
    area_code_geomatch: true,
    date_created: iso8601(s.dateCreated),
    date_updated: iso8601(s.dateUpdated),
    fallback_method: s.fallbackMethod,
    fallback_to_long_code: true,
    fallback_url: s.fallbackUrl,
    friendly_name: s.friendlyName,
    inbound_method: s.inboundMethod,
    inbound_request_url: s.inboundRequestUrl,
    links: {
      alpha_senders: `${url}/AlphaSenders`,
      channel_senders: `${url}/ChannelSenders`,
      destination_alpha_senders: `${url}/DestinationAlphaSenders`,
      phone_numbers: `${url}/PhoneNumbers`,
      short_codes: `${url}/ShortCodes`,
      us_app_to_person: `${url}/Compliance/Usa2p`,
      us_app_to_person_usecases: `${url}/Compliance/Usa2p/Usecases`,
    },
    mms_converter: true,
    scan_message_content: 'inherit',
    sid: s.sid,
    smart_encoding: true,
    status_callback: s.statusCallback,
    sticky_sender: true,
    synchronous_validation: true,
    url,
    us_app_to_person_registered: false,
    use_inbound_webhook_on_number: s.useInboundWebhookOnNumber,
    usecase: 'undeclared',
    validity_period: 36_000,
  };
}

export function serviceNumberJson(s: MessagingService, n: PhoneNumber): Record<string, unknown> {
  return {
    account_sid: n.accountSid,
    capabilities: n.kind === 'whatsapp' ? ['SMS'] : ['MMS', 'SMS'],
    country_code: n.location.country,
    date_created: iso8601(n.dateUpdated),
    date_updated: iso8601(n.dateUpdated),
    phone_number: n.phoneNumber,
    service_sid: s.sid,
    sid: n.sid,
    url: `${serviceUrl(s.sid)}/PhoneNumbers/${n.sid}`,
  };
}

const SENDER_TYPES: Partial<Record<PhoneNumber['kind'], string>> = {
  whatsapp: 'WhatsApp',
  messenger: 'Messenger',
  rcs: 'RCS',
};

/** A WhatsApp, Messenger or RCS sender as a Messaging Service's ChannelSender. */
export function channelSenderJson(s: MessagingService, n: PhoneNumber): Record<string, unknown> {
  return {
    account_sid: n.accountSid,
    country_code: n.location.country,
    date_created: iso8601(n.dateCreated),
    date_updated: iso8601(n.dateUpdated),
    messaging_service_sid: s.sid,
    sender: n.phoneNumber,
    sender_type: SENDER_TYPES[n.kind] ?? null,
    sid: senderSid(n),
    url: `${serviceUrl(s.sid)}/ChannelSenders/${senderSid(n)}`,
  };
}

/** The media URL Twilio hands out in webhooks (Basic auth), on the emulator's public URL. */
export function mediaContentUrl(publicUrl: string, media: MediaItem): string {
  return `${publicUrl}${accountPath(media.accountSid)}/Messages/${media.messageSid}/Media/${media.sid}`;
}

/** The same bytes without auth, for the phone page and tests. */
export function openMediaUrl(publicUrl: string, mediaSid: string): string {
  return `${publicUrl}/_emulator/media/${mediaSid}`;
}

/** A message as the control API and the event stream show it: with times in ISO and ms. */
export function messageView(m: Message, publicUrl: string): Record<string, unknown> {
  return {
    seq: m.seq,
    sid: m.sid,
    accountSid: m.accountSid,
    messagingServiceSid: m.messagingServiceSid,
    direction: m.direction,
    from: m.from,
    to: m.to,
    body: m.body,
    channel: m.channel,
    contentSid: m.contentSid,
    status: m.status,
    errorCode: m.errorCode,
    errorMessage: m.errorMessage,
    numSegments: m.numSegments,
    media: m.media.map((x) => ({
      sid: x.sid,
      contentType: x.contentType,
      url: openMediaUrl(publicUrl, x.sid),
    })),
    statusCallback: m.statusCallback,
    dateCreated: new Date(m.dateCreated).toISOString(),
    dateSent: m.dateSent === null ? null : new Date(m.dateSent).toISOString(),
    /** Epoch ms at which the message left its sender's queue: the basis for rate checks. */
    sentAtMs: m.dateSent,
    history: m.history.map((h) => ({
      status: h.status,
      at: new Date(h.at).toISOString(),
      atMs: h.at,
    })),
    deleted: m.deleted,
  };
}

/** The Senders API's SID for a WhatsApp sender (the emulator keeps it as a number). */
/** A short code's SID (SC…), derived from the number the emulator keeps it as. */
export function shortCodeSid(n: PhoneNumber): string {
  return `SC${n.sid.slice(2)}`;
}

export function shortCodeJson(n: PhoneNumber): Record<string, unknown> {
  const sid = shortCodeSid(n);
  return {
    account_sid: n.accountSid,
    api_version: '2010-04-01',
    date_created: rfc2822(n.dateCreated),
    date_updated: rfc2822(n.dateUpdated),
    friendly_name: n.friendlyName,
    short_code: n.phoneNumber,
    sid,
    sms_fallback_method: n.smsFallbackMethod,
    sms_fallback_url: n.smsFallbackUrl || null,
    sms_method: n.smsMethod,
    sms_url: n.smsUrl || null,
    uri: `${accountPath(n.accountSid)}/SMS/ShortCodes/${sid}.json`,
  };
}

export function senderSid(n: PhoneNumber): string {
  return `XE${n.sid.slice(2)}`;
}

export function senderJson(n: PhoneNumber): Record<string, unknown> {
  return {
    sid: senderSid(n),
    status: 'ONLINE',
    sender_id: n.phoneNumber,
    configuration: {
      waba_id: null,
      verification_method: 'sms',
      verification_code: null,
      voice_application_sid: null,
    },
    webhook: {
      callback_url: n.smsUrl || null,
      callback_method: n.smsMethod,
      fallback_url: n.smsFallbackUrl || null,
      fallback_method: n.smsFallbackMethod,
      status_callback_url: n.statusCallback || null,
      status_callback_method: n.statusCallbackMethod,
    },
    profile: {
      name: n.friendlyName || null,
      about: null,
      address: null,
      description: null,
      emails: [],
      logo_url: null,
      vertical: null,
      websites: [],
    },
    properties: { quality_rating: 'HIGH', messaging_limit: '1K' },
    offline_reasons: null,
    url: `https://messaging.twilio.com/v2/Channels/Senders/${senderSid(n)}`,
  };
}
