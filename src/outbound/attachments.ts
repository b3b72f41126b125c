import type { Channel } from '../addresses.js';
import { AppError } from '../errors.js';
import type { SecretBox } from '../secret-box.js';

/** Types Twilio delivers as MMS (it fully supports JPEG, GIF and PNG; the others pass through). */
export const ACCEPTED_TYPES = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'audio/mpeg',
  'audio/ogg',
  'video/mp4',
  'video/3gpp',
  'application/pdf',
  'text/vcard',
]);
/** Twilio's limits for one outbound message. */
export const MAX_ATTACHMENTS = 10;
export const MAX_TOTAL_BYTES = 5 * 1024 * 1024;
/** How long Twilio has to fetch an attachment from its signed URL. */
const SIGNED_URL_TTL_MS = 60 * 60 * 1000;

export interface Attachment {
  sha256: string;
  contentType: string;
  size: number;
}

/**
 * How long an upload token may be sent with a message. Bytes left unnamed are deleted only
 * after a grace longer than this (retention/media-deletions.ts): bytes uploaded but not yet
 * sent have no media row, and must not be taken while their token still works.
 */
export const UPLOAD_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * An upload token names stored bytes and their checked type, signed so that a message can
 * only attach what was uploaded through Parley, as it was uploaded, within a day.
 */
export function uploadToken(box: SecretBox, a: Attachment, now = Date.now()): string {
  const expires = now + UPLOAD_TOKEN_TTL_MS;
  const payload = `${a.sha256}.${Buffer.from(a.contentType).toString('base64url')}.${a.size}.${expires}`;
  return `${payload}.${box.sign(`upload:${payload}`)}`;
}

export function readUploadTokens(box: SecretBox, tokens: string[], now = Date.now()): Attachment[] {
  if (tokens.length > MAX_ATTACHMENTS) {
    throw new AppError(
      'bad_request',
      `at most ${MAX_ATTACHMENTS} attachments per message`,
      'attachments',
    );
  }
  const attachments = tokens.map((token) => {
    const [sha256, type, size, expires, signature] = token.split('.');
    const payload = `${sha256}.${type}.${size}.${expires}`;
    if (
      !sha256 ||
      !type ||
      !size ||
      !expires ||
      !signature ||
      !box.verify(`upload:${payload}`, signature)
    ) {
      throw new AppError('bad_request', 'an attachment token is not valid', 'attachments');
    }
    if (Number(expires) <= now) {
      throw new AppError(
        'bad_request',
        'an attachment token has expired: upload the file again',
        'attachments',
      );
    }
    return { sha256, contentType: Buffer.from(type, 'base64url').toString(), size: Number(size) };
  });
  const total = attachments.reduce((sum, a) => sum + a.size, 0);
  if (total > MAX_TOTAL_BYTES) {
    throw new AppError(
      'payload_too_large',
      "attachments may total 5 MB per message (Twilio's limit)",
      'attachments',
    );
  }
  return attachments;
}

/**
 * What Twilio delivers over Facebook Messenger: one attachment per message, JPEG, PNG, MP3,
 * MP4 or PDF, up to 25 MB (Parley's 5 MB limit for every message stays below that).
 */
const MESSENGER_TYPES = new Set([
  'image/jpeg',
  'image/png',
  'audio/mpeg',
  'video/mp4',
  'application/pdf',
]);
const MESSENGER_MAX_ATTACHMENTS = 1;

/** Refuses attachments the channel cannot carry, naming what it can; a 400 on `attachments`. */
export function assertAttachmentsFit(channel: Channel, attachments: readonly Attachment[]): void {
  if (channel !== 'messenger') return;
  if (attachments.length > MESSENGER_MAX_ATTACHMENTS) {
    throw new AppError(
      'bad_request',
      `Messenger carries ${MESSENGER_MAX_ATTACHMENTS} attachment per message`,
      'attachments',
    );
  }
  const refused = attachments.find((a) => !MESSENGER_TYPES.has(a.contentType));
  if (refused) {
    throw new AppError(
      'bad_request',
      `Messenger does not carry ${refused.contentType}; attachments there may be ${[...MESSENGER_TYPES].join(', ')}`,
      'attachments',
    );
  }
}

/** A URL Twilio can fetch an outbound attachment from, valid for an hour. */
export function signedMediaUrl(
  box: SecretBox,
  publicUrl: string,
  mediaId: string,
  now = Date.now(),
): string {
  const expires = now + SIGNED_URL_TTL_MS;
  const signature = box.sign(`media:${mediaId}:${expires}`);
  return `${publicUrl}/media/outbound/${mediaId}?expires=${expires}&signature=${signature}`;
}

export function verifyMediaUrl(
  box: SecretBox,
  mediaId: string,
  expires: number,
  signature: string,
  now = Date.now(),
): boolean {
  return expires > now && box.verify(`media:${mediaId}:${expires}`, signature);
}
