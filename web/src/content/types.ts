/**
 * The customer-service window and the content templates, as the server's contract gives them
 * (GET /api/service-window, GET /api/content-templates, the admin's content templates).
 */

/** Whether free text may be sent now, and until when (WhatsApp and Messenger; SMS always). */
export interface ServiceWindow {
  channel: 'sms' | 'whatsapp' | 'messenger';
  open: boolean;
  closesAt: string | null;
  lastInboundAt: string | null;
  /** Whether an approved template may be sent while the window is closed (WhatsApp). */
  templatesAllowed: boolean;
}

/** A template the signed-in agent may send from a number. */
export interface ContentTemplate {
  sid: string;
  friendlyName: string;
  language: string;
  /** With `{{1}}` or `{{name}}` placeholders. */
  body: string;
  /** Placeholder → sample value. */
  variables: Record<string, string>;
  types: string[];
}

/** A template to send and the values of its placeholders. */
export interface TemplateChoice {
  contentSid: string;
  variables: Record<string, string>;
}

/** A synced template as the admin sees it, with WhatsApp's verdict. */
export interface AdminContentTemplate extends ContentTemplate {
  id: string;
  accountId: string;
  whatsappStatus: string;
  whatsappCategory: string | null;
  rejectionReason: string | null;
  syncedAt: string;
}

/** What POST /api/admin/accounts/:id/content-templates/sync answers. */
export interface TemplateSync {
  synced: number;
  removed: number;
}
