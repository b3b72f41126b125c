import { eq } from 'drizzle-orm';
import type { CountryCode } from 'libphonenumber-js';
import {
  addressOnChannel,
  businessMayStart,
  channelOfKind,
  withoutChannelPrefix,
} from '../addresses.js';
import { defaultCountryOf } from '../admin/accounts.js';
import { fillOriginationTemplate, getOriginationTemplate } from '../admin/origination-templates.js';
import type { AuthUser } from '../auth/sessions.js';
import { consentSender, isOptedOut } from '../consent/consent.js';
import { contactName, upsertContact } from '../consent/contacts.js';
import {
  type ResolvedTemplate,
  resolveTemplate,
  templatesForNumber,
} from '../content/content-templates.js';
import { openConversationIn } from '../conversations/conversations.js';
import { markOpenedForAgent } from '../conversations/lifecycle.js';
import { type ServiceWindow, serviceWindow } from '../conversations/service-window.js';
import { contacts, conversations, flows, numbers, type TemplateChoice } from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { appendEvent } from '../event-log.js';
import type { OriginationStrategy } from '../events.js';
import { normalisePhone } from '../phone-numbers.js';
import { recordAffinity } from '../routing/index.js';
import { type Attachment, assertAttachmentsFit } from './attachments.js';
import { assertMayOriginate, defaultSenderNumber, type Originator } from './origination-senders.js';
import { enqueueOutbound, type OutboundMessage } from './outbox.js';

const OPTED_OUT =
  'the customer has opted out of messages from this number (replied STOP); they must text START first';

/** What an agent sends: text and attachments, or a content template with its values. */
export interface AgentContent {
  body: string;
  attachments: Attachment[];
  template?: TemplateChoice | undefined;
}

function checkContent(input: AgentContent): void {
  if (input.template) {
    if (input.body.trim() || input.attachments.length > 0) {
      throw new AppError(
        'bad_request',
        'a template is sent on its own: leave body and attachments empty',
        'body',
      );
    }
  } else if (!input.body.trim() && input.attachments.length === 0) {
    throw new AppError('bad_request', 'a message needs text or an attachment', 'body');
  }
}

/** The number's flow decides whether agents may send attachments (no flow: they may). */
function assertAgentAttachmentsAllowed(allowed: boolean | null, attachments: Attachment[]): void {
  if (attachments.length > 0 && allowed === false) {
    throw new AppError(
      'bad_request',
      "this number's flow does not let agents send attachments: send the text without them",
      'attachments',
    );
  }
}

/**
 * The agent's template choice, checked (the account has it, the channel takes it, every
 * placeholder has a value, the queue allows it) and rendered; `{{customerName}}` and
 * `{{agentName}}` in the values are filled in.
 */
async function agentTemplate(
  db: Executor,
  user: Originator,
  choice: TemplateChoice | undefined,
  where: { numberId: string; conversationId?: string; customerAddress: string },
): Promise<ResolvedTemplate | undefined> {
  if (!choice) return undefined;
  const [number] = await db
    .select({
      accountId: numbers.accountId,
      kind: numbers.kind,
      businessName: flows.businessName,
    })
    .from(numbers)
    .leftJoin(flows, eq(flows.id, numbers.flowId))
    .where(eq(numbers.id, where.numberId));
  if (!number)
    throw new AppError('bad_request', `number ${where.numberId} does not exist`, 'numberId');
  const [contact] = await db
    .select({ name: contacts.name, attributes: contacts.attributes })
    .from(contacts)
    .where(eq(contacts.address, where.customerAddress));
  const template = await resolveTemplate(
    db,
    { accountId: number.accountId, channel: channelOfKind(number.kind) },
    choice,
    {
      customerName: (contact && contactName(contact)) ?? '',
      agentName: user.name,
      businessName: number.businessName ?? '',
    },
  );
  const allowed = await templatesForNumber(db, where);
  if (!allowed.some((t) => t.sid === template.contentSid)) {
    throw new AppError(
      'bad_request',
      `template ${template.contentSid} is not among the templates this queue's agents may send`,
      'template.contentSid',
    );
  }
  return template;
}

/** An agent's reply in a conversation assigned to them, queued for sending at once. */
export async function sendAgentReply(
  db: Db,
  user: AuthUser,
  conversationId: string,
  input: AgentContent,
): Promise<OutboundMessage> {
  checkContent(input);
  const [conversation] = await db
    .select({
      id: conversations.id,
      state: conversations.state,
      agentId: conversations.agentId,
      numberId: conversations.numberId,
      customerAddress: conversations.customerAddress,
      address: numbers.address,
      kind: numbers.kind,
      messagingServiceSid: numbers.messagingServiceSid,
      flowAllowsAgentAttachments: flows.allowAgentAttachments,
    })
    .from(conversations)
    .innerJoin(numbers, eq(numbers.id, conversations.numberId))
    .leftJoin(flows, eq(flows.id, numbers.flowId))
    .where(eq(conversations.id, conversationId));
  // Another agent's conversation is reported as absent, not forbidden.
  if (!conversation || (user.role === 'agent' && conversation.agentId !== user.id)) {
    throw new AppError('not_found', 'no such conversation');
  }
  if (conversation.state !== 'active') {
    throw new AppError(
      'conflict',
      `the conversation is ${conversation.state}; only an active one takes replies`,
    );
  }
  assertAgentAttachmentsAllowed(conversation.flowAllowsAgentAttachments, input.attachments);
  assertAttachmentsFit(channelOfKind(conversation.kind), input.attachments);
  await refuseIfOptedOut(
    db,
    conversation.customerAddress,
    consentSender(conversation),
    conversationId,
  );
  const template = await agentTemplate(db, user, input.template, {
    numberId: conversation.numberId,
    conversationId,
    customerAddress: conversation.customerAddress,
  });
  return inTransaction(db, (tx) =>
    enqueueOutbound(tx, {
      conversationId,
      numberId: conversation.numberId,
      to: conversation.customerAddress,
      body: input.body,
      author: 'agent',
      agentId: user.id,
      attachments: input.attachments,
      template,
    }),
  );
}

export interface Origination extends AgentContent {
  to: string;
  defaultCountry?: CountryCode | undefined;
  /** Absent: the user's default sender (their queue's, else their first number). */
  numberId?: string | undefined;
  /** Absent: the number's default strategy. */
  strategy?: OriginationStrategy | undefined;
  /** An origination task template: its number, strategy and text replace those above. */
  templateId?: string | undefined;
  /** Values of the task template's placeholders. */
  variables?: Record<string, string> | undefined;
}

/**
 * An agent starts a conversation. `assign-now` opens it active and pinned to the agent at
 * once; `on-reply` only sends and records an affinity, so the customer's answer opens the
 * conversation and is offered to this agent first. The number must allow the user's role
 * to originate from it (403 otherwise).
 */
export async function originate(
  db: Db,
  user: Originator,
  request: Origination,
): Promise<{ message: OutboundMessage; conversationId: string | null }> {
  const input = await withTaskTemplate(db, user, request);
  const numberId = input.numberId ?? (await defaultSenderNumber(db, user));
  if (!numberId) {
    throw new AppError(
      'bad_request',
      'there is no number you may start conversations from; an admin allows it on a number',
      'numberId',
    );
  }
  const { number, to } = await recipientOf(db, { ...input, numberId });
  assertMayOriginate(number, user.role);
  const strategy = input.strategy ?? number.defaultStrategy;
  checkContent(input);
  if (input.attachments.length > 0 && number.flowId) {
    const [flow] = await db
      .select({ allowAgentAttachments: flows.allowAgentAttachments })
      .from(flows)
      .where(eq(flows.id, number.flowId));
    assertAgentAttachmentsAllowed(flow?.allowAgentAttachments ?? null, input.attachments);
  }
  await refuseIfOptedOut(db, to, consentSender(number), null);
  const template = await agentTemplate(db, user, input.template, {
    numberId: number.id,
    customerAddress: to,
  });
  const text = template?.body ?? input.body;

  return inTransaction(db, async (tx) => {
    let conversationId: string | null = null;
    if (strategy === 'assign-now') {
      const contact = await upsertContact(tx, to);
      const opened = await openConversationIn(tx, {
        numberId: number.id,
        contactId: contact.id,
        customerAddress: to,
        origin: 'agent',
      });
      if (!opened) throw new AppError('conflict', "the customer's conversation changed; try again");
      const { conversation, created } = opened;
      if (!created && conversation.agentId !== user.id) {
        throw new AppError(
          'conflict',
          'the customer is already in an open conversation on this number; it must end first',
          'to',
        );
      }
      if (created) {
        await markOpenedForAgent(tx, conversation.id, user.id);
      }
      conversationId = conversation.id;
    }
    const message = await enqueueOutbound(tx, {
      conversationId,
      numberId: number.id,
      to,
      body: input.body,
      author: 'agent',
      agentId: user.id,
      attachments: input.attachments,
      template,
    });
    if (strategy === 'on-reply') {
      await recordAffinity(tx, {
        numberId: number.id,
        customerAddress: to,
        agentId: user.id,
        originalText: text,
        messageId: message.id,
      });
    }
    await appendEvent(
      tx,
      'origination.sent',
      { conversationId, agentId: user.id },
      {
        messageId: message.id,
        numberId: number.id,
        to,
        body: text,
        strategy,
        conversationId,
      },
    );
    return { message, conversationId };
  });
}

/**
 * The origination with its task template applied: the template's number, strategy and
 * filled-in text replace the request's (which names neither a text nor a content template).
 */
async function withTaskTemplate(
  db: Executor,
  user: Originator,
  input: Origination,
): Promise<Origination> {
  if (input.templateId === undefined) {
    if (input.variables !== undefined && Object.keys(input.variables).length > 0) {
      throw new AppError('bad_request', 'variables go with a templateId', 'variables');
    }
    return input;
  }
  if (input.template || input.body.trim() || input.attachments.length > 0) {
    throw new AppError(
      'bad_request',
      'a task template gives the text: leave body, attachments and template empty',
      'templateId',
    );
  }
  const template = await getOriginationTemplate(db, input.templateId, 'templateId');
  return {
    ...input,
    numberId: template.numberId,
    strategy: template.strategy,
    body: fillOriginationTemplate(template, input.variables ?? {}, user.name),
  };
}

/**
 * The sending number and the customer's address on its channel, from the address as typed;
 * a number on which a business may not start a conversation (a Messenger page) is refused.
 */
async function recipientOf(
  db: Executor,
  input: { numberId: string; to: string; defaultCountry?: CountryCode | undefined },
) {
  const [number] = await db.select().from(numbers).where(eq(numbers.id, input.numberId));
  if (!number)
    throw new AppError('bad_request', `number ${input.numberId} does not exist`, 'numberId');
  if (!businessMayStart(channelOfKind(number.kind))) {
    throw new AppError(
      'bad_request',
      `number ${number.address} is a Messenger page: Messenger conversations start only when the customer writes to the page, so agents cannot start one there`,
      'numberId',
    );
  }
  // National format is read in the country the request names, else the number's account's.
  const country = input.defaultCountry ?? (await defaultCountryOf(db, number.accountId));
  const phone = normalisePhone(withoutChannelPrefix(input.to), country);
  if (!phone) {
    throw new AppError(
      'bad_request',
      `to ${JSON.stringify(input.to.trim())} is not a phone number Parley can read: write it as +14255550123, 14255550123 or in ${country} national format`,
      'to',
    );
  }
  return { number, to: addressOnChannel(phone, channelOfKind(number.kind)) };
}

/**
 * The customer-service window an origination to this customer would meet. An agent learns
 * whether it is open, not when the customer last wrote: any number can be asked about.
 */
export async function originationWindow(
  db: Db,
  user: Pick<AuthUser, 'role'>,
  input: { numberId: string; to: string; defaultCountry?: CountryCode | undefined },
): Promise<ServiceWindow> {
  const { number, to } = await recipientOf(db, input);
  const window = await serviceWindow(db, { numberId: number.id, customerAddress: to });
  return user.role === 'agent' ? { ...window, closesAt: null, lastInboundAt: null } : window;
}

async function refuseIfOptedOut(db: Db, to: string, sender: string, conversationId: string | null) {
  if (!(await isOptedOut(db, to, sender))) return;
  if (conversationId) {
    await inTransaction(db, (tx) =>
      appendEvent(tx, 'message.refused', { conversationId }, { to, reason: OPTED_OUT }),
    );
  }
  throw new AppError('conflict', OPTED_OUT, 'to');
}
