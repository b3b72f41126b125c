/**
 * Twilio's Content API, as Parley reads it: an account's templates with their WhatsApp
 * approval (https://www.twilio.com/docs/content/content-api-resources).
 */
import type { TwilioClient } from './client.js';

/** A template as Twilio describes it, reduced to what Parley keeps. */
export interface TwilioContentTemplate {
  sid: string;
  friendlyName: string;
  language: string;
  /** The text the customer reads, with its placeholders. */
  body: string;
  variables: Record<string, string>;
  types: string[];
  whatsapp: { status: string; category: string | null; rejectionReason: string | null };
}

/** The text of a template: its first type with a body (twilio/text, twilio/media, …). */
function bodyOf(types: Record<string, unknown>): string {
  for (const type of Object.values(types)) {
    if (type && typeof type === 'object') {
      const fields = type as Record<string, unknown>;
      if (typeof fields.body === 'string') return fields.body;
      if (typeof fields.title === 'string') return fields.title;
    }
  }
  return '';
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * The WhatsApp part of an approval: ContentAndApprovals gives it as `approval_requests`
 * itself, the ApprovalRequests resource under `whatsapp`.
 */
function whatsappApproval(approvals: unknown): TwilioContentTemplate['whatsapp'] {
  const outer = (approvals && typeof approvals === 'object' ? approvals : {}) as Record<
    string,
    unknown
  >;
  const inner = (
    outer.whatsapp && typeof outer.whatsapp === 'object' ? outer.whatsapp : outer
  ) as Record<string, unknown>;
  return {
    status: text(inner.status)?.toLowerCase() ?? 'unsubmitted',
    category: text(inner.category),
    rejectionReason: text(inner.rejection_reason),
  };
}

/** Every content template of the client's account, with its WhatsApp approval status. */
export async function listContentTemplates(client: TwilioClient): Promise<TwilioContentTemplate[]> {
  const items = await client.content.v1.contentAndApprovals.list({ pageSize: 500 });
  return items.map((item) => {
    const types = (item.types ?? {}) as Record<string, unknown>;
    return {
      sid: item.sid,
      friendlyName: item.friendlyName ?? '',
      language: item.language ?? '',
      body: bodyOf(types),
      variables: Object.fromEntries(
        Object.entries(item.variables ?? {}).map(([name, sample]) => [name, String(sample)]),
      ),
      types: Object.keys(types),
      whatsapp: whatsappApproval(item.approvalRequests),
    };
  });
}

/** Asks WhatsApp, through Twilio, to approve a template; answers the approval as it stands. */
export async function requestWhatsappApproval(
  client: TwilioClient,
  sid: string,
  request: { name: string; category: string },
): Promise<TwilioContentTemplate['whatsapp']> {
  const created = await client.content.v1.contents(sid).approvalCreate.create(request);
  return whatsappApproval(created);
}
