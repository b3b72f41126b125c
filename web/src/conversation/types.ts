/**
 * What the desk and the supervisor view both read of the API: the transcript
 * (GET /api/conversations/{id}, src/conversations/conversations.routes.ts) and the
 * directory of agents and queues (GET /api/directory). The web app cannot import server
 * code, so the shapes are restated here.
 */

export type Presence = 'available' | 'away' | 'offline';
export type ConversationState = 'flow' | 'queued' | 'offered' | 'active' | 'closed';
export type Channel = 'sms' | 'whatsapp';

export interface Directory {
  agents: {
    id: string;
    name: string;
    role: 'agent' | 'supervisor' | 'admin';
    presence: Presence;
  }[];
  queues: { id: string; name: string }[];
}

export interface TranscriptMedia {
  id: string;
  contentType: string;
  status: 'pending' | 'stored' | 'failed' | 'refused';
  /** Null until the file is stored. */
  url: string | null;
}

export interface TranscriptMessage {
  id: string;
  direction: 'inbound' | 'outbound';
  author: 'customer' | 'agent' | 'flow' | 'bot';
  agentId: string | null;
  /** The agent who wrote it, even after the conversation changed hands. */
  agentName: string | null;
  body: string;
  status: string;
  errorCode: number | null;
  errorMessage: string | null;
  segments: number | null;
  createdAt: string;
  media: TranscriptMedia[];
}

export interface Transcript {
  conversation: {
    id: string;
    state: ConversationState;
    origin: 'customer' | 'agent';
    numberId: string;
    numberAddress: string;
    contactId: string;
    customerAddress: string;
    agentId: string | null;
    agentName: string | null;
    queueId: string | null;
    queueName: string | null;
    channel: Channel;
    allowAttachments: boolean;
    createdAt: string;
    closedAt: string | null;
    closeReason: string | null;
  };
  /** The agent's text this conversation answers (an on-reply origination). */
  originalText: string | null;
  /** Absent when the contact row is missing (the server leaves the key out). */
  contact?: {
    id: string;
    address: string;
    name: string | null;
    location: Record<string, string>;
    optedOut: boolean;
  };
  messages: TranscriptMessage[];
}
