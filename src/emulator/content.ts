import { nowMs } from './clock.js';
import { TwilioApiError } from './errors.js';
import { iso8601, newSid } from './format.js';
import type { ApprovalStatus, ContentTemplate, WhatsAppApproval } from './types.js';

/**
 * Content API templates (shapes from Twilio's published twilio_content_v1.json): their JSON
 * and how a message created with ContentSid / ContentVariables turns into text and media.
 */

export const CONTENT_HOST = 'https://content.twilio.com';

export const approvalStatuses: readonly ApprovalStatus[] = [
  'unsubmitted',
  'received',
  'pending',
  'approved',
  'rejected',
  'paused',
  'disabled',
];

const CONTENT_SID = /^HX[0-9a-fA-F]{32}$/;
/** `{{1}}`, `{{name}}`: variable names have no spaces ([Using variables](https://www.twilio.com/docs/content/using-variables-with-content-api)). */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

export const UNSUBMITTED: WhatsAppApproval = {
  name: '',
  category: '',
  status: 'unsubmitted',
  rejectionReason: '',
  allowCategoryChange: true,
};

export interface NewContent {
  /** A SID of the caller's choosing (the control API's, to keep one across restarts). */
  sid?: string | undefined;
  accountSid: string;
  friendlyName: string;
  language: string;
  variables: Record<string, string>;
  types: Record<string, Record<string, unknown>>;
}

export function newContent(init: NewContent): ContentTemplate {
  const now = nowMs();
  const { sid, ...parts } = init;
  return {
    sid: sid ?? newSid('HX'),
    ...parts,
    whatsapp: { ...UNSUBMITTED },
    dateCreated: now,
    dateUpdated: now,
  };
}

/**
 * Checks a Content create body (`friendly_name`, `language`, `variables`, `types`) and returns
 * the template's parts, or throws Twilio's 400.
 */
export function parseContentBody(body: Record<string, unknown>): Omit<NewContent, 'accountSid'> {
  const { language, types, variables } = body;
  const friendlyName = body.friendly_name;
  if (typeof language !== 'string' || language === '') {
    throw new TwilioApiError(400, 20001, 'Missing required parameter language in the post body');
  }
  if (!isRecord(types) || Object.keys(types).length === 0) {
    throw new TwilioApiError(400, 20001, 'Missing required parameter types in the post body');
  }
  const parsedTypes: Record<string, Record<string, unknown>> = {};
  for (const [name, definition] of Object.entries(types)) {
    if (!isRecord(definition)) throw new TwilioApiError(400, 20001, `Invalid content type ${name}`);
    parsedTypes[name] = definition;
  }
  const text = parsedTypes['twilio/text'];
  if (text && typeof text.body !== 'string') {
    throw new TwilioApiError(400, 20001, 'twilio/text requires a body');
  }
  const media = parsedTypes['twilio/media'];
  if (media && !(Array.isArray(media.media) && media.media.every((m) => typeof m === 'string'))) {
    throw new TwilioApiError(400, 20001, 'twilio/media requires media, a list of URLs');
  }
  const parsedVariables: Record<string, string> = {};
  if (variables !== undefined && variables !== null) {
    if (!isRecord(variables)) throw new TwilioApiError(400, 20001, 'variables must be an object');
    for (const [name, value] of Object.entries(variables)) {
      if (typeof value !== 'string') {
        throw new TwilioApiError(400, 20001, `variable ${name} must be a string`);
      }
      parsedVariables[name] = value;
    }
  }
  return {
    friendlyName: typeof friendlyName === 'string' ? friendlyName : '',
    language,
    variables: parsedVariables,
    types: parsedTypes,
  };
}

export interface RenderedContent {
  template: ContentTemplate;
  body: string;
  mediaUrls: string[];
}

/**
 * The template a message names, rendered with its ContentVariables: 21655 when the SID is not
 * a template of this account, 21656 when the variables are not a JSON object of non-empty
 * values or a placeholder has neither a value nor a sample to fall back to
 * ([21655](https://www.twilio.com/docs/api/errors/21655),
 * [21656](https://www.twilio.com/docs/api/errors/21656)). The text comes from `twilio/media`
 * (with its media) or else `twilio/text`, or else the first type with a `body`.
 */
export function renderContent(
  contents: ReadonlyMap<string, ContentTemplate>,
  accountSid: string,
  contentSid: string,
  rawVariables: string | undefined,
): RenderedContent {
  const template = CONTENT_SID.test(contentSid) ? contents.get(contentSid) : undefined;
  if (!template || template.accountSid !== accountSid) {
    throw new TwilioApiError(400, 21655, 'The Content SID is Invalid.');
  }
  const given = parseVariables(rawVariables);
  const fill = (text: string): string =>
    text.replace(PLACEHOLDER, (_match, name: string) => {
      const value = given[name] ?? template.variables[name];
      if (value === undefined || value === '') {
        throw new TwilioApiError(
          400,
          21656,
          `The ContentVariables Parameter is invalid: no value for {{${name}}}`,
        );
      }
      return value;
    });
  const media = template.types['twilio/media'];
  const text = template.types['twilio/text'];
  const withBody = Object.values(template.types).find((t) => typeof t.body === 'string');
  const source = media ?? text ?? withBody;
  const body = typeof source?.body === 'string' ? fill(source.body) : '';
  const mediaUrls = Array.isArray(media?.media)
    ? media.media.filter((m): m is string => typeof m === 'string').map(fill)
    : [];
  return { template, body, mediaUrls };
}

function parseVariables(raw: string | undefined): Record<string, string> {
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new TwilioApiError(
      400,
      21656,
      'The ContentVariables Parameter is invalid: not a JSON string',
    );
  }
  if (!isRecord(parsed)) {
    throw new TwilioApiError(
      400,
      21656,
      'The ContentVariables Parameter is invalid: not a JSON object',
    );
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if ((typeof value !== 'string' && typeof value !== 'number') || value === '') {
      throw new TwilioApiError(
        400,
        21656,
        `The ContentVariables Parameter is invalid: ${name} is null or empty`,
      );
    }
    out[name] = String(value);
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function contentUrl(sid: string): string {
  return `${CONTENT_HOST}/v1/Content/${sid}`;
}

export function contentJson(c: ContentTemplate): Record<string, unknown> {
  const url = contentUrl(c.sid);
  return {
    account_sid: c.accountSid,
    date_created: iso8601(c.dateCreated),
    date_updated: iso8601(c.dateUpdated),
    friendly_name: c.friendlyName,
    language: c.language,
    links: {
      approval_create: `${url}/ApprovalRequests/whatsapp`,
      approval_fetch: `${url}/ApprovalRequests`,
    },
    sid: c.sid,
    types: c.types,
    url,
    variables: c.variables,
  };
}

/** The WhatsApp approval as Twilio shows it, `content_type` being the template's first type. */
export function approvalRequestJson(c: ContentTemplate): Record<string, unknown> {
  const submitted = c.whatsapp.status !== 'unsubmitted';
  return {
    allow_category_change: c.whatsapp.allowCategoryChange,
    category: c.whatsapp.category,
    content_type: submitted ? (Object.keys(c.types)[0] ?? '') : '',
    name: c.whatsapp.name,
    rejection_reason: c.whatsapp.rejectionReason,
    status: c.whatsapp.status,
  };
}

export function approvalFetchJson(c: ContentTemplate): Record<string, unknown> {
  return {
    account_sid: c.accountSid,
    sid: c.sid,
    url: `${contentUrl(c.sid)}/ApprovalRequests`,
    whatsapp: { type: 'whatsapp', ...approvalRequestJson(c) },
  };
}

/** A ContentAndApprovals item: the content without its `url` and `links`, with its approval. */
export function contentAndApprovalsJson(c: ContentTemplate): Record<string, unknown> {
  return {
    account_sid: c.accountSid,
    approval_requests: approvalRequestJson(c),
    date_created: iso8601(c.dateCreated),
    date_updated: iso8601(c.dateUpdated),
    friendly_name: c.friendlyName,
    language: c.language,
    sid: c.sid,
    types: c.types,
    variables: c.variables,
  };
}
