/**
 * What the desk reads of the API, as the server documents it (api-types.ts, generated).
 */
import type { Schemas } from '../api';

export type { Directory, Presence, Transcript } from '../conversation/types';

export type Offer = Schemas['Offer'];
export type MyConversation = Schemas['MyConversation'];
export type QuickReply = Schemas['QuickReplyForUse'];
export type Sender = Schemas['SenderNumber'];
export type SegmentCount = Schemas['SegmentCount'];
