import { channelOf, HANDSET_ADDRESS, hasSessionWindow, kindChannel } from './channels.js';
import { nowMs } from './clock.js';
import { type RenderedContent, renderContent } from './content.js';
import { deliveryErrorMessages, TwilioApiError } from './errors.js';
import { newSid } from './format.js';
import { optOutKey } from './opt-out.js';
import { countSegments } from './segments.js';
import { openMediaUrl } from './serializers.js';
import { DEFAULT_HANDSET_SETTINGS, type EmulatorState } from './state.js';
import type {
  Account,
  Channel,
  Direction,
  MediaItem,
  Message,
  MessageStatus,
  MessagingService,
  PhoneNumber,
} from './types.js';
import { type FetchedMedia, fetchMedia, sendSignedRequest } from './webhooks.js';

export interface OutboundRequest {
  account: Account;
  to: string | undefined;
  from: string | undefined;
  messagingServiceSid: string | undefined;
  body: string;
  mediaUrls: string[];
  contentSid: string | undefined;
  /** ContentVariables as sent: a JSON string. */
  contentVariables: string | undefined;
  statusCallback: string | undefined;
}

type MediaResult = { ok: true; items: FetchedMedia[] } | { ok: false; error: string };

interface QueueItem {
  message: Message;
  sender: PhoneNumber;
  segments: number;
  /** Not before this moment: the configured queued → sending delay. */
  earliestAt: number;
  media: Promise<MediaResult>;
}

/** One sender's queue: messages leave one at a time, spaced by their segments at the sender's rate. */
interface Lane {
  rate: number;
  queue: QueueItem[];
  /** Epoch ms before which the next message may not leave. */
  nextAt: number;
  running: boolean;
}

/** Recipient errors a Messaging Service reports by status callback rather than at create. */
const DEFERRED_WITH_SERVICE = new Set([21610, 21612, 21614]);

/** Twilio's test-credential magic To numbers, answered at create time. */
const MAGIC_TO: Record<string, (to: string) => TwilioApiError> = {
  '+15005550001': (to) =>
    new TwilioApiError(400, 21211, `The 'To' number ${to} is not a valid phone number.`),
  '+15005550002': (to) =>
    new TwilioApiError(
      400,
      21612,
      `The 'To' phone number: ${to}, is not currently reachable using the 'From' phone number via SMS.`,
    ),
  '+15005550003': (to) =>
    new TwilioApiError(
      400,
      21408,
      `Permission to send an SMS has not been enabled for the region indicated by the 'To' number: ${to}.`,
    ),
  '+15005550004': () => new TwilioApiError(400, 21610, 'Attempt to send to unsubscribed recipient'),
  '+15005550009': (to) =>
    new TwilioApiError(400, 21614, `'To' number ${to} is not a valid mobile number`),
};

const MAX_BODY = 1600;
const MAX_MEDIA = 10;
/** An MMS's media, all together, at most (Twilio's error 63034 beyond). */
const MAX_MEDIA_BYTES = 5 * 1024 * 1024;
/**
 * Content types Twilio accepts for MMS media; anything else fails the message with 12300
 * ([Accepted content types for media](https://www.twilio.com/docs/sms/accepted-mime-types)).
 */
const ACCEPTED_MEDIA =
  /^(image\/(jpeg|jpg|gif|png|bmp|tiff)|audio\/(basic|L24|mp4|mpeg|ogg|vorbis|vnd\.rn-realaudio|vnd\.wave|3gpp|3gpp2|ac3|webm|amr-nb|amr)|video\/(mpeg|mp4|quicktime|webm|3gpp|3gpp2|3gpp-tt|H261|H263|H263-1998|H263-2000|H264)|text\/(vcard|x-vcard|csv|rtf|richtext|calendar|directory)|application\/(pdf|vcard|vnd\.apple\.pkpass|msword|vnd\.ms-excel|vnd\.ms-powerpoint|vnd\.openxmlformats-officedocument\.[a-z.]+))$/;

const FINAL: ReadonlySet<MessageStatus> = new Set([
  'delivered',
  'partially_delivered',
  'read',
  'undelivered',
  'failed',
  'received',
  'canceled',
]);

export function isFinal(status: MessageStatus): boolean {
  return FINAL.has(status);
}

/** Creates outbound messages and moves them through queue, pacing and status callbacks. */
export class Dispatcher {
  private lanes = new Map<string, Lane>();
  /** Status callbacks of one message are posted one after the other, so they arrive in order. */
  private callbackChains = new Map<string, Promise<void>>();
  private random: { seed: number; next: () => number } | undefined;

  constructor(private readonly state: EmulatorState) {}

  reset(): void {
    this.lanes = new Map();
    this.callbackChains = new Map();
  }

  /** POST Messages.json: validates like Twilio, then queues. Throws TwilioApiError (nothing stored). */
  create(req: OutboundRequest): Message {
    const { account } = req;
    if (!req.to) throw new TwilioApiError(400, 21604, "A 'To' phone number is required.");
    if (!req.from && !req.messagingServiceSid) {
      throw new TwilioApiError(400, 21603, "A 'From' phone number is required.");
    }
    if (req.contentVariables !== undefined && !req.contentSid) {
      throw new TwilioApiError(
        400,
        21654,
        'ContentSid Required: a ContentSid must be given with ContentVariables.',
      );
    }
    // A template replaces Body and MediaUrl: the message carries the rendered text and media.
    const content: RenderedContent | null = req.contentSid
      ? renderContent(this.state.contents, account.sid, req.contentSid, req.contentVariables)
      : null;
    const body = content ? content.body : req.body;
    const mediaUrls = content ? content.mediaUrls : req.mediaUrls;
    if (body === '' && mediaUrls.length === 0) {
      throw new TwilioApiError(400, 21602, 'Message body is required.');
    }
    if (body.length > MAX_BODY) {
      throw new TwilioApiError(
        400,
        21617,
        'The concatenated message body exceeds the 1600 character limit.',
      );
    }
    if (mediaUrls.length > MAX_MEDIA) {
      throw new TwilioApiError(400, 21623, 'The number of media files exceeds the maximum of 10.');
    }
    const malformed = mediaUrls.filter(
      (url) => !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol),
    );
    if (malformed.length > 0) {
      throw new TwilioApiError(400, 21620, `Media urls: ${malformed.join(', ')} are invalid.`);
    }
    const magic = MAGIC_TO[req.to]?.(req.to);
    // Through a Messaging Service, an unreachable or unsubscribed recipient fails after
    // creation; a malformed number or a closed region is refused at once either way.
    if (magic && (!req.messagingServiceSid || !DEFERRED_WITH_SERVICE.has(magic.code))) {
      throw magic;
    }
    if (!HANDSET_ADDRESS.test(req.to)) {
      throw new TwilioApiError(
        400,
        21211,
        `The 'To' number ${req.to} is not a valid phone number.`,
      );
    }
    const service = req.messagingServiceSid
      ? this.state.services.get(req.messagingServiceSid)
      : undefined;
    if (req.messagingServiceSid && (!service || service.accountSid !== account.sid)) {
      throw new TwilioApiError(
        400,
        21701,
        `The Messaging Service Sid ${req.messagingServiceSid} is invalid.`,
      );
    }
    let sender: PhoneNumber | undefined;
    if (req.from) {
      sender = this.state.numberByPhone(req.from);
      if (!sender || sender.accountSid !== account.sid) {
        if (channelOf(req.from) !== 'sms') {
          throw new TwilioApiError(
            400,
            63007,
            'Twilio could not find a Channel with the specified From address',
          );
        }
        throw new TwilioApiError(
          400,
          21606,
          `The From phone number ${req.from} is not a valid, SMS-capable inbound phone number or short code for your account.`,
        );
      }
    } else if (service) {
      sender = this.pickSender(service, req.to);
      if (!sender) {
        throw new TwilioApiError(400, 21704, 'The Messaging Service contains no phone numbers');
      }
    }
    if (!sender) throw new TwilioApiError(400, 21603, "A 'From' phone number is required.");
    // A Messaging Service's RCS sender carries messages addressed to phone numbers.
    const channel: Channel = sender.kind === 'rcs' && !req.from ? 'rcs' : channelOf(req.to);
    const senderChannel = kindChannel(sender.kind);
    if (channel === 'rcs' ? channelOf(req.to) !== 'sms' : senderChannel !== channel) {
      throw new TwilioApiError(
        400,
        21910,
        'Invalid From and To pair. From and To should be of the same channel',
      );
    }
    if (sender.phoneNumber === req.to) {
      throw new TwilioApiError(400, 21266, "'To' and 'From' number cannot be the same");
    }
    // WhatsApp and Messenger take the message and then fail it (63016) when the handset has not
    // written within 24 hours; on WhatsApp an approved template may go at any time.
    const outsideWindow =
      hasSessionWindow(channel) && !this.state.sessionOpen(sender.phoneNumber, req.to);
    const windowFailure =
      outsideWindow &&
      (channel === 'messenger' || content?.template.whatsapp.status !== 'approved');
    const segments = countSegments(body).segments;
    // Refused at create when sent from a number; a Messaging Service accepts the message and
    // fails it afterwards (status callback `failed`), with 30001 for a full queue.
    const refusal = magic
      ? magic
      : this.state.optOuts.has(optOutKey(sender, req.to))
        ? new TwilioApiError(400, 21610, 'Attempt to send to unsubscribed recipient')
        : this.overQueueBound(sender, segments)
          ? new TwilioApiError(
              400,
              21611,
              "This 'From' number has exceeded the maximum number of queued messages",
            )
          : null;
    if (refusal && !service) throw refusal;

    const message = this.newMessage({
      accountSid: account.sid,
      direction: 'outbound-api',
      messagingServiceSid: service?.sid ?? null,
      // A Messaging Service picks the sender after accepting: Twilio answers from=null, 0 segments.
      from: service && !req.from ? null : sender.phoneNumber,
      to: req.to,
      body,
      channel,
      contentSid: content?.template.sid ?? null,
      numSegments: service && !req.from ? 0 : segments,
      numMedia: mediaUrls.length,
      statusCallback: req.statusCallback || service?.statusCallback || null,
      status: service ? 'accepted' : 'queued',
    });
    if (windowFailure) {
      // The (service's) sender is picked, then the channel refuses the message; the answer to
      // create still shows what Twilio shows at that point (from=null through a service).
      const from = sender.phoneNumber;
      this.state.later(0, () => {
        message.from = from;
        this.fail(message, 'failed', 63016);
      });
      return message;
    }
    if (refusal) {
      const code = refusal.code === 21611 ? 30001 : refusal.code;
      this.state.later(0, () => this.fail(message, 'failed', code));
      return message;
    }
    this.enqueue(message, sender, segments, mediaUrls);
    if (service) {
      if (channel !== 'rcs') this.state.stickySenders.set(`${service.sid}|${req.to}`, sender.sid);
      this.state.later(0, () => this.promote(message, sender, segments));
    }
    return message;
  }

  /**
   * The number a Messaging Service sends from, as Twilio's sender pool picks it: its RCS sender
   * for a phone number whose handset takes RCS (RCS is the first-attempt channel), else the one
   * it last used for this recipient (Sticky Sender), else one with the recipient's area code
   * (Area Code Geomatch, North American numbers), else the first of the recipient's channel
   * ([Messaging Services](https://www.twilio.com/docs/messaging/services),
   * [RCS fallback](https://www.twilio.com/docs/rcs/send-an-rcs-message)).
   */
  private pickSender(service: MessagingService, to: string): PhoneNumber | undefined {
    const channel = channelOf(to);
    const members = service.numberSids
      .map((sid) => this.state.numbers.get(sid))
      .filter((n): n is PhoneNumber => n !== undefined);
    const rcs = members.find((n) => n.kind === 'rcs');
    const handset = this.state.handsetSettings.get(to) ?? DEFAULT_HANDSET_SETTINGS;
    if (channel === 'sms' && rcs && handset.rcsCapable) return rcs;
    const pool = members.filter((n) => kindChannel(n.kind) === channel);
    const sticky = this.state.stickySenders.get(`${service.sid}|${to}`);
    const areaCode = (address: string) => /^(?:whatsapp:)?\+1(\d{3})\d{7}$/.exec(address)?.[1];
    return (
      pool.find((n) => n.sid === sticky) ??
      pool.find((n) => areaCode(to) !== undefined && areaCode(n.phoneNumber) === areaCode(to)) ??
      pool[0] ??
      members.find((n) => n.kind !== 'rcs')
    );
  }

  /** A TwiML `<Message>` answer: an outbound-reply from the business number, paced like any other. */
  reply(
    number: PhoneNumber,
    to: string,
    body: string,
    mediaUrls: string[],
    statusCallback: string | null,
  ): Message {
    const segments = countSegments(body).segments;
    const message = this.newMessage({
      accountSid: number.accountSid,
      direction: 'outbound-reply',
      messagingServiceSid: number.serviceSid,
      from: number.phoneNumber,
      to,
      body,
      channel: kindChannel(number.kind),
      contentSid: null,
      numSegments: segments,
      numMedia: mediaUrls.length,
      statusCallback,
      status: 'queued',
    });
    if (this.state.optOuts.has(optOutKey(number, to))) {
      this.fail(message, 'failed', 21610);
      return message;
    }
    this.enqueue(message, number, segments, mediaUrls);
    return message;
  }

  /** POST Messages/{Sid}.json with Status=canceled. */
  cancel(message: Message): void {
    if (message.status !== 'queued' && message.status !== 'accepted') {
      throw new TwilioApiError(400, 30409, 'This message cannot be canceled');
    }
    for (const lane of this.lanes.values()) {
      lane.queue = lane.queue.filter((item) => item.message !== message);
    }
    this.state.setStatus(message, 'canceled');
    this.statusCallback(message);
  }

  private newMessage(init: {
    accountSid: string;
    direction: Direction;
    messagingServiceSid: string | null;
    from: string | null;
    to: string;
    body: string;
    channel: Channel;
    contentSid: string | null;
    numSegments: number;
    numMedia: number;
    statusCallback: string | null;
    status: MessageStatus;
  }): Message {
    const now = nowMs();
    const message: Message = {
      ...init,
      sid: newSid(init.numMedia > 0 ? 'MM' : 'SM'),
      errorCode: null,
      errorMessage: null,
      media: [],
      dateCreated: now,
      dateUpdated: now,
      dateSent: null,
      history: [{ status: init.status, at: now }],
      seq: 0,
      deleted: false,
    };
    this.state.messages.set(message.sid, message);
    this.state.touchMessage(message);
    // Twilio sends no status callback for a new message's initial status.
    return message;
  }

  /** Whether the sender's queue already holds more than the bound's worth of traffic. */
  private overQueueBound(sender: PhoneNumber, segments: number): boolean {
    const lane = this.lanes.get(sender.phoneNumber);
    if (!lane) return false;
    const queued = lane.queue.reduce((sum, item) => sum + item.segments, 0);
    const backlogMs = Math.max(0, lane.nextAt - nowMs()) + ((queued + segments) * 1000) / lane.rate;
    // One message's own airtime does not count against the bound; only the wait ahead of it does.
    return backlogMs - (segments * 1000) / lane.rate > this.state.settings.queueBoundSeconds * 1000;
  }

  private enqueue(
    message: Message,
    sender: PhoneNumber,
    segments: number,
    mediaUrls: string[],
  ): void {
    let lane = this.lanes.get(sender.phoneNumber);
    if (!lane) {
      lane = { rate: sender.mps, queue: [], nextAt: 0, running: false };
      this.lanes.set(sender.phoneNumber, lane);
    }
    lane.queue.push({
      message,
      sender,
      segments,
      earliestAt: message.dateCreated + this.state.settings.statusDelaysMs.sending,
      media: this.download(mediaUrls),
    });
    void this.pump(lane);
  }

  private async download(urls: string[]): Promise<MediaResult> {
    const timeout = this.state.settings.webhookTimeoutMs;
    const results = await Promise.allSettled(urls.map((url) => fetchMedia(url, timeout)));
    const items: FetchedMedia[] = [];
    for (const r of results) {
      if (r.status === 'rejected') return { ok: false, error: String(r.reason) };
      items.push(r.value);
    }
    return { ok: true, items };
  }

  /** accepted → queued: the Messaging Service has picked its sender. */
  private promote(message: Message, sender: PhoneNumber, segments: number): void {
    if (message.status !== 'accepted') return;
    message.from = sender.phoneNumber;
    message.numSegments = segments;
    this.state.setStatus(message, 'queued');
    this.statusCallback(message);
  }

  private async pump(lane: Lane): Promise<void> {
    if (lane.running) return;
    lane.running = true;
    const generation = this.state.generation;
    const alive = (): boolean => !this.state.closed && generation === this.state.generation;
    try {
      while (alive()) {
        const item = lane.queue[0];
        if (!item) break;
        const readyAt = Math.max(lane.nextAt, item.earliestAt);
        if (nowMs() < readyAt) {
          // Wake up and look again: the head may have been canceled meanwhile.
          await new Promise<void>((resolve) => this.state.later(readyAt - nowMs(), resolve));
          continue;
        }
        lane.queue.shift();
        const media = await item.media;
        if (!alive()) break;
        this.promote(item.message, item.sender, item.segments);
        if (item.message.status !== 'queued') continue;
        if (!media.ok) {
          this.fail(item.message, 'failed', 11200);
          continue;
        }
        if (media.items.reduce((sum, m) => sum + m.bytes.length, 0) > MAX_MEDIA_BYTES) {
          this.fail(item.message, 'failed', 63034);
          continue;
        }
        if (!media.items.every((m) => ACCEPTED_MEDIA.test(m.contentType))) {
          this.fail(item.message, 'failed', 12300);
          continue;
        }
        this.attachMedia(item.message, media.items);
        const leftAt = nowMs();
        lane.nextAt = leftAt + (item.segments * 1000) / lane.rate;
        this.transmit(item.message, leftAt);
      }
    } finally {
      lane.running = false;
    }
  }

  private attachMedia(message: Message, fetched: FetchedMedia[]): void {
    for (const f of fetched) {
      const item: MediaItem = {
        sid: newSid('ME'),
        accountSid: message.accountSid,
        messageSid: message.sid,
        contentType: f.contentType,
        bytes: f.bytes,
        dateCreated: nowMs(),
      };
      message.media.push(item);
      this.state.media.set(item.sid, item);
    }
  }

  /** sending → sent → delivered (or undelivered), then the handset's inbox. */
  private transmit(message: Message, leftAt: number): void {
    const delays = this.state.settings.statusDelaysMs;
    message.dateSent = leftAt;
    this.state.setStatus(message, 'sending', leftAt);
    this.statusCallback(message);
    this.state.later(delays.sent, () => {
      this.state.setStatus(message, 'sent');
      this.statusCallback(message);
      this.state.later(delays.delivered, () => {
        const handset = this.state.handsetSettings.get(message.to) ?? DEFAULT_HANDSET_SETTINGS;
        if (handset.deliveryErrorCode !== null) {
          this.fail(message, 'undelivered', handset.deliveryErrorCode);
          return;
        }
        if (handset.partialMms && message.media.length > 1) {
          // Twilio's outcome for an MMS the handset took only in part; the first picture arrives.
          message.media = message.media.slice(0, 1);
          message.errorCode = 30008;
          message.errorMessage = deliveryErrorMessages[30008] ?? null;
          this.state.setStatus(message, 'partially_delivered');
        } else {
          this.state.setStatus(message, 'delivered');
        }
        this.statusCallback(message);
        if (message.channel === 'whatsapp' && handset.readReceipts) {
          this.state.later(delays.delivered, () => {
            this.state.setStatus(message, 'read');
            this.statusCallback(message);
          });
        }
        const publicUrl = this.state.publicUrl();
        this.state.addHandsetMessage({
          sid: message.sid,
          handset: message.to,
          business: message.from ?? '',
          direction: 'to-handset',
          kind: 'message',
          channel: message.channel,
          body: message.body,
          media: message.media.map((m) => ({
            sid: m.sid,
            contentType: m.contentType,
            url: openMediaUrl(publicUrl, m.sid),
          })),
          date: new Date().toISOString(),
        });
      });
    });
  }

  private fail(message: Message, status: 'failed' | 'undelivered', code: number): void {
    message.errorCode = code;
    message.errorMessage = deliveryErrorMessages[code] ?? 'Unknown error';
    this.state.setStatus(message, status);
    this.statusCallback(message);
  }

  /** Posts Twilio's status callback for the message's current status, in order per message. */
  private statusCallback(message: Message): void {
    const url = message.statusCallback;
    const account = this.state.accounts.get(message.accountSid);
    if (!url || !account) return;
    const params: Record<string, string> = {
      AccountSid: message.accountSid,
      ApiVersion: '2010-04-01',
      MessageSid: message.sid,
      MessageStatus: message.status,
      SmsSid: message.sid,
      SmsStatus: message.status,
      To: message.to,
    };
    if (message.from) params.From = message.from;
    if (message.messagingServiceSid) params.MessagingServiceSid = message.messagingServiceSid;
    if (message.errorCode !== null) params.ErrorCode = String(message.errorCode);
    const timeout = this.state.settings.webhookTimeoutMs;
    const post = () => sendSignedRequest(url, 'POST', params, account.authToken, timeout);
    const disorder = this.state.settings.callbackDisorder;
    if (disorder) {
      const random = this.randomFor(disorder.seed);
      if (!isFinal(message.status) && random() < disorder.skipRatio) return;
      const copies = random() < disorder.duplicateRatio ? 2 : 1;
      for (let i = 0; i < copies; i++) {
        this.state.later(Math.floor(random() * disorder.reorderMs), () => void post());
      }
      return;
    }
    const previous = this.callbackChains.get(message.sid) ?? Promise.resolve();
    const next = previous.then(async () => {
      await post();
    });
    this.callbackChains.set(message.sid, next);
    if (isFinal(message.status)) {
      void next.then(() => {
        if (this.callbackChains.get(message.sid) === next) this.callbackChains.delete(message.sid);
      });
    }
  }

  /** The disorder's generator (mulberry32), started again whenever its seed changes. */
  private randomFor(seed: number): () => number {
    if (this.random?.seed !== seed) {
      let a = seed >>> 0;
      this.random = {
        seed,
        next: () => {
          a = (a + 0x6d2b79f5) >>> 0;
          let t = a;
          t = Math.imul(t ^ (t >>> 15), t | 1);
          t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
          return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
        },
      };
    }
    return this.random.next;
  }
}
