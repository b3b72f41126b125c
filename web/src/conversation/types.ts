/**
 * What the desk and the supervisor view both read of the API: the transcript
 * (GET /api/conversations/{id}) and the directory of agents and queues (GET /api/directory),
 * as the server documents them (api-types.ts, generated).
 */
import type { Schemas } from '../api';

export type Presence = Schemas['Presence']['presence'];
export type ConversationState = Schemas['Transcript']['conversation']['state'];
export type Channel = Schemas['Transcript']['conversation']['channel'];
/** Each channel by the name people know it by, in the order the views list them. */
export const CHANNEL_LABELS: Record<Channel, string> = {
  sms: 'SMS',
  whatsapp: 'WhatsApp',
  messenger: 'Messenger',
};
export const CHANNELS = Object.keys(CHANNEL_LABELS) as Channel[];
export type Directory = Schemas['Directory'];
export type Transcript = Schemas['Transcript'];
export type TranscriptMessage = Transcript['messages'][number];
export type TranscriptMedia = TranscriptMessage['media'][number];
/** A note, transfer, reassignment or close, with who did it. */
export type TranscriptActivity = Transcript['activity'][number];
