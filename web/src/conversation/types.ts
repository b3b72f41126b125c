/**
 * What the desk and the supervisor view both read of the API: the transcript
 * (GET /api/conversations/{id}) and the directory of agents and queues (GET /api/directory),
 * as the server documents them (api-types.ts, generated).
 */
import type { Schemas } from '../api';
import type { ServiceWindow } from '../content/types';

export type Presence = Schemas['Presence']['presence'];
export type ConversationState = Schemas['Transcript']['conversation']['state'];
export type Channel = Schemas['Transcript']['conversation']['channel'];
export type Directory = Schemas['Directory'];
type GeneratedTranscript = Schemas['Transcript'];
/** A message, and how it was sent: as a template (its ContentSid), as RCS or its fallback. */
export type TranscriptMessage = GeneratedTranscript['messages'][number] & {
  contentSid: string | null;
  sentAs: 'rcs' | 'sms' | 'mms' | null;
};
/** The transcript with the conversation's customer-service window. */
export type Transcript = Omit<GeneratedTranscript, 'conversation' | 'messages'> & {
  conversation: GeneratedTranscript['conversation'] & { serviceWindow: ServiceWindow };
  messages: TranscriptMessage[];
};
export type TranscriptMedia = TranscriptMessage['media'][number];
