/**
 * Erasing what Twilio keeps of a message: its body and its media. As Twilio documents them:
 * - UpdateMessage (POST /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json) is "used to
 *   redact Message `body` text": "To redact the text content of a Message, this parameter's
 *   value must be an empty string" (Twilio's OpenAPI description, twilio_api_v2010.json, as
 *   shipped in @twilio-alpha/mcp); the older wording, "To redact a message-body from a
 *   post-flight message record, post to the message instance resource with an empty body",
 *   says it is for messages that have finished; Body with Status in one request is error
 *   30400 (https://www.twilio.com/docs/api/errors/30400);
 * - DeleteMedia (DELETE …/Messages/{MessageSid}/Media/{Sid}.json): "To delete individual
 *   media files associated with MMS messages through the API, make an HTTP DELETE request
 *   to the message media resource" (https://support.twilio.com/hc/en-us/articles/223133687,
 *   "Deleting messages, message media or message bodies").
 * The message record itself stays (redacted), as Parley keeps its own: its status and times
 * remain for reports.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describeTwilioError, type TwilioClient, type TwilioFailure } from './client.js';

/** What erasing one message on Twilio did. */
export interface TwilioMessageErasure {
  /** The body was emptied (or Twilio no longer has the message: nothing left to erase). */
  redacted: boolean;
  mediaDeleted: number;
  /** Twilio had no such message (deleted there already, or never stored). */
  gone: boolean;
}

/** Attempts per call: a network error, a 429 or a 5xx is tried again after a pause. */
const ATTEMPTS = 3;
const PAUSE_MS = 250;

function transient(failure: TwilioFailure): boolean {
  return failure.status === null || failure.status === 429 || failure.status >= 500;
}

async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= ATTEMPTS || !transient(describeTwilioError(error))) throw error;
      await sleep(PAUSE_MS * 2 ** (attempt - 1));
    }
  }
}

/**
 * Deletes the message's media on Twilio, then empties its body. Throws a Twilio error (see
 * describeTwilioError) when Twilio refuses or cannot be reached after the retries; a 404
 * means the message is gone from Twilio, which is what erasure wants.
 */
export async function eraseTwilioMessage(
  client: TwilioClient,
  messageSid: string,
): Promise<TwilioMessageErasure> {
  const message = client.messages(messageSid);
  try {
    const media = await withRetries(() => message.media.list({ pageSize: 100 }));
    let mediaDeleted = 0;
    for (const item of media) {
      await withRetries(() => message.media(item.sid).remove());
      mediaDeleted++;
    }
    await withRetries(() => message.update({ body: '' }));
    return { redacted: true, mediaDeleted, gone: false };
  } catch (error) {
    if (describeTwilioError(error).status === 404) {
      return { redacted: true, mediaDeleted: 0, gone: true };
    }
    throw error;
  }
}
