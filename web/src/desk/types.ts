export type { Directory, Presence, Transcript } from '../conversation/types';

export interface Offer {
  id: string;
  conversationId: string;
  reason: 'queue' | 'affinity' | 'transfer';
  originalText: string | null;
  transferNote: string | null;
  expiresAt: string;
  createdAt: string;
  conversation: {
    customerAddress: string;
    numberAddress: string;
    channel: 'sms' | 'whatsapp';
    queueName: string | null;
  };
}

export interface MyConversation {
  id: string;
  state: 'offered' | 'active';
  customerAddress: string;
  numberAddress: string;
  channel: 'sms' | 'whatsapp';
  lastMessageAt: string;
  offerId: string | null;
  unread: number;
  lastMessage: { body: string; direction: 'inbound' | 'outbound'; createdAt: string } | null;
}

export interface ContactHistory {
  conversations: {
    id: string;
    state: string;
    numberAddress: string;
    agentName: string | null;
    createdAt: string;
    closedAt: string | null;
    closeReason: string | null;
  }[];
  originations: {
    messageId: string;
    numberAddress: string;
    agentName: string | null;
    body: string;
    status: string;
    createdAt: string;
  }[];
}

export interface QuickReply {
  id: string;
  title: string;
  body: string;
}

export interface Sender {
  id: string;
  address: string;
  name: string;
  kind: string;
  default: boolean;
}

export interface SegmentCount {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  units: number;
  perSegment: number;
}
