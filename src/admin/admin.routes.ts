import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { archivedQuery, idParams, noContent } from '../api-schemas.js';
import { type AuditActor, actorOf, recordAudit } from '../audit/audit-log.js';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import { checkTwilioCredentials, createTwilioClient } from '../channels/twilio/client.js';
import type { TwilioClients } from '../channels/twilio/clients.js';
import {
  CONFIGURED_RESOURCES,
  configureNumberWebhooks,
  lookUpNumber,
  readNumberWebhooks,
  webhooksMatch,
} from '../channels/twilio/number-webhooks.js';
import { webhookUrls } from '../channels/twilio/webhooks.js';
import type { Db } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import type { SecretBox } from '../secret-box.js';
import {
  accountPatchSchema,
  accountView,
  changesCredentials,
  createAccount,
  getAccountCredentials,
  listAccounts,
  newAccountSchema,
  patchedCredentials,
  updateAccount,
} from './accounts.js';
import {
  agentInput,
  agentPatch,
  agentView,
  createAgent,
  listAgents,
  updateAgent,
} from './agents.js';
import {
  archiveAccount,
  archiveNumber,
  archiveQueue,
  type CloseForArchive,
  restoreAccount,
  restoreNumber,
  restoreQueue,
} from './archiving.js';
import {
  assertNumberRefs,
  createNumber,
  getNumber,
  listNumbers,
  type NumberInput,
  type NumberRow,
  numberInput,
  numberView,
  presentNumber,
  readNumberAddress,
  recordRcsSender,
  updateNumber,
} from './numbers.js';
import {
  createOriginationTemplate,
  deleteOriginationTemplate,
  listOriginationTemplates,
  originationTemplateInput,
  originationTemplateView,
  presentOriginationTemplate,
  updateOriginationTemplate,
} from './origination-templates.js';
import {
  createQueue,
  getQueue,
  listQueues,
  queueInput,
  queueSummaryView,
  queueView,
  updateQueue,
} from './queues.js';
import {
  createQuickReply,
  deleteQuickReply,
  listQuickReplies,
  type QuickReply,
  quickRepliesFor,
  quickReplyInput,
  updateQuickReply,
} from './quick-replies.js';

/**
 * Makes a number exist on the Twilio account before Parley checks it there: the demo's
 * emulator learns the number an admin adds, so that it can be texted at once.
 */
export type PrepareNumberOnTwilio = (number: {
  accountSid: string;
  address: string;
  kind: NumberRow['kind'];
}) => Promise<void>;

export interface AdminDeps {
  db: Db;
  secretBox: SecretBox;
  clients: TwilioClients;
  publicUrl: string;
  /** flows/closing.ts closeConversations, for archiving a number with its open conversations. */
  closeConversations: CloseForArchive;
  /** WEBHOOK_FALLBACK_URL, or the public URL: what Twilio falls back to. */
  webhookFallbackUrl: string;
  /** Only in the demo, whose Twilio is the emulator. */
  prepareNumberOnTwilio?: PrepareNumberOnTwilio | undefined;
}

const archiveNumberQuery = z.object({
  openConversations: z
    .enum(['close'], {
      error: 'openConversations may only be close: the open conversations are closed',
    })
    .optional(),
});

const quickReplyView = z
  .object({
    id: z.string(),
    title: z.string(),
    body: z.string(),
    queueId: z.string().nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'QuickReply' });
const twilioConfiguration = z
  .object({
    configured: z.enum(CONFIGURED_RESOURCES),
    sid: z.string(),
    webhookUrl: z.string(),
    fallbackUrl: z.string(),
    statusCallbackUrl: z.string(),
    /** The Messaging Service's RCS sender, if it has one: Twilio tries RCS first. */
    rcsSender: z.string().nullable(),
  })
  .meta({ id: 'TwilioConfiguration' });
const twilioWebhooksView = z
  .object({
    /** Parley's URLs, which "Set in Twilio" sets. */
    expected: z.object({
      webhookUrl: z.string(),
      fallbackUrl: z.string(),
      statusCallbackUrl: z.string(),
    }),
    /** What Twilio has now on the resource that carries the number's webhooks. */
    current: z.object({
      configured: z.enum(CONFIGURED_RESOURCES),
      sid: z.string(),
      webhookUrl: z.string().nullable(),
      fallbackUrl: z.string().nullable(),
      /** Null also for a short code, which has none of its own. */
      statusCallbackUrl: z.string().nullable(),
    }),
    /** Whether Twilio's settings are Parley's. */
    matches: z.boolean(),
  })
  .meta({ id: 'TwilioWebhooks' });
const quickReplyJson = (row: QuickReply) => ({ ...row, createdAt: row.createdAt.toISOString() });

/**
 * Configuration of accounts, numbers, queues, agents, quick replies and origination task
 * templates (flows are flows.routes.ts's): admins only; and the quick replies a signed-in
 * user may use, which the desk reads.
 */
export function registerAdminRoutes(parent: FastifyInstance, deps: AdminDeps): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: requireRole('admin') };
    const urls = webhookUrls(deps.publicUrl, deps.webhookFallbackUrl);

    app.get(
      '/api/admin/accounts',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Twilio accounts (no secrets); archived ones with archived=include',
          querystring: archivedQuery,
          response: { 200: z.array(accountView) },
        },
      },
      (request) => listAccounts(deps.db, request.query.archived),
    );

    app.delete(
      '/api/admin/accounts/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            'Archive an account (again: nothing changes); refused while it has numbers that are not archived',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await archiveAccount(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/admin/accounts/:id/restore',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Restore an archived account',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await restoreAccount(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/admin/accounts',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Add a Twilio account; the credentials are checked against Twilio first',
          body: newAccountSchema,
          response: { 201: accountView },
        },
      },
      async (request, reply) => {
        const body = request.body;
        await checkTwilioCredentials(
          {
            accountSid: body.accountSid,
            authToken: body.authToken,
            apiKeySid: body.apiKeySid ?? null,
            apiKeySecret: body.apiKeySecret ?? null,
          },
          deps.clients.apiUrl,
        );
        // One transaction: the account exists exactly when its audit entry does.
        const created = await inTransaction(deps.db, (tx) =>
          createAccount(tx, deps.secretBox, body, actorOf(request)),
        );
        return reply.status(201).send(created);
      },
    );

    app.patch(
      '/api/admin/accounts/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            'Rename an account or rotate its credentials (Auth Token, API key); new credentials are checked against Twilio first',
          params: idParams,
          body: accountPatchSchema,
          response: { 200: accountView },
        },
      },
      async (request) => {
        const { id } = request.params;
        if (changesCredentials(request.body)) {
          const current = await getAccountCredentials(deps.db, deps.secretBox, id);
          await checkTwilioCredentials(
            patchedCredentials(current, request.body),
            deps.clients.apiUrl,
          );
        }
        const account = await inTransaction(deps.db, (tx) =>
          updateAccount(tx, deps.secretBox, id, request.body, actorOf(request)),
        );
        // The announcement clears every instance's clients when it arrives; this one at once.
        deps.clients.forget(id);
        return account;
      },
    );

    app.get(
      '/api/admin/numbers',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Numbers, with the URLs to give Twilio; archived ones with archived=include',
          querystring: archivedQuery,
          response: { 200: z.array(numberView) },
        },
      },
      async (request) =>
        (await listNumbers(deps.db, request.query.archived)).map((n) => presentNumber(n, urls)),
    );

    app.delete(
      '/api/admin/numbers/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            'Archive a number: refused while it has open conversations unless openConversations=close closes them. Texts to it are still stored and answered',
          params: idParams,
          querystring: archiveNumberQuery,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await archiveNumber(
          deps.db,
          request.params.id,
          {
            openConversations: request.query.openConversations,
            byUserId: currentUser(request).id,
            close: deps.closeConversations,
          },
          actorOf(request),
        );
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/admin/numbers/:id/restore',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Restore an archived number (its account must not be archived)',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await restoreNumber(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/admin/numbers',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            "Add a number (E.164, digits with the country code, national format in the account's country, short code, whatsapp:+… or messenger:<page id>)",
          description:
            "The number is looked up on the account's Twilio first and its capabilities are kept: 400 naming address when the account has no such number, 502 when Twilio cannot be asked (nothing is saved). A Messenger page is looked up among its Messaging Service's channel senders; without a service it is not (Twilio's API lists pages nowhere else).",
          body: numberInput,
          response: { 201: numberView },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(presentNumber(await addNumber(deps, request.body, actorOf(request)), urls)),
    );

    app.patch(
      '/api/admin/numbers/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Change a number's kind, name, Messaging Service, flow or send rate",
          params: idParams,
          body: numberInput.omit({ accountId: true, address: true }).partial(),
          response: { 200: numberView },
        },
      },
      async (request) =>
        presentNumber(
          await updateNumber(deps.db, request.params.id, request.body, actorOf(request)),
          urls,
        ),
    );

    app.post(
      '/api/admin/numbers/:id/configure-twilio',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Point the Twilio number (or its Messaging Service) at Parley's webhook URLs",
          params: idParams,
          response: { 200: twilioConfiguration },
        },
      },
      async (request) => {
        const number = await getNumber(deps.db, request.params.id);
        const credentials = await getAccountCredentials(deps.db, deps.secretBox, number.accountId);
        const client = createTwilioClient(credentials, deps.clients.apiUrl);
        const configured = await configureNumberWebhooks(client, number, urls);
        if (configured.configured === 'messaging-service') {
          await recordRcsSender(deps.db, number.id, {
            serviceSid: configured.sid,
            rcsSender: configured.rcsSender,
          });
        }
        // Twilio's settings changed, whatever happens to this answer: recorded after.
        await recordAudit(deps.db, {
          actor: actorOf(request),
          action: 'number.twilio-configured',
          target: { type: 'number', id: number.id },
          detail: { configured: configured.configured, sid: configured.sid, ...urls },
        });
        return configured;
      },
    );

    app.get(
      '/api/admin/numbers/:id/twilio-webhooks',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            "The webhook, fallback and status callback URLs Twilio has for the number now, read back from Twilio, and whether they are Parley's",
          params: idParams,
          response: { 200: twilioWebhooksView },
        },
      },
      async (request) => {
        const number = await getNumber(deps.db, request.params.id);
        const client = await deps.clients.forAccount(number.accountId);
        const current = await readNumberWebhooks(client, number);
        return { expected: urls, current, matches: webhooksMatch(current, urls) };
      },
    );

    app.get(
      '/api/admin/queues',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Queues; archived ones with archived=include',
          querystring: archivedQuery,
          response: { 200: z.array(queueSummaryView) },
        },
      },
      (request) => listQueues(deps.db, request.query.archived),
    );

    app.delete(
      '/api/admin/queues/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            "Archive a queue; refused while it is a flow's target or another queue's overflow, or conversations wait in it",
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await archiveQueue(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/admin/queues/:id/restore',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Restore an archived queue',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await restoreQueue(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/admin/queues',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Add a queue with its members and strategy',
          body: queueInput,
          response: { 201: queueView },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await createQueue(deps.db, request.body, actorOf(request))),
    );

    app.get(
      '/api/admin/queues/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'A queue with its members',
          params: idParams,
          response: { 200: queueView },
        },
      },
      (request) => getQueue(deps.db, request.params.id),
    );

    app.patch(
      '/api/admin/queues/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Change a queue; memberIds replaces the members',
          params: idParams,
          body: queueInput.partial(),
          response: { 200: queueView },
        },
      },
      (request) => updateQueue(deps.db, request.params.id, request.body, actorOf(request)),
    );

    app.get(
      '/api/admin/agents',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Users with their routing profile',
          response: { 200: z.array(agentView) },
        },
      },
      () => listAgents(deps.db),
    );

    app.post(
      '/api/admin/agents',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Add a user (agent, supervisor or admin)',
          body: agentInput,
          response: { 201: agentView },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await createAgent(deps.db, request.body, actorOf(request))),
    );

    app.patch(
      '/api/admin/agents/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Change a user's role, capacity, skills, languages, or disable them",
          params: idParams,
          body: agentPatch,
          response: { 200: agentView },
        },
      },
      (request) => updateAgent(deps.db, request.params.id, request.body, actorOf(request)),
    );

    app.get(
      '/api/admin/quick-replies',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Quick replies, by title',
          response: { 200: z.array(quickReplyView) },
        },
      },
      async () => (await listQuickReplies(deps.db)).map(quickReplyJson),
    );

    app.post(
      '/api/admin/quick-replies',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Add a quick reply, for every agent or for one queue's members",
          body: quickReplyInput,
          response: { 201: quickReplyView },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(quickReplyJson(await createQuickReply(deps.db, request.body, actorOf(request)))),
    );

    app.patch(
      '/api/admin/quick-replies/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Change a quick reply's title, text or queue",
          params: idParams,
          body: quickReplyInput.partial(),
          response: { 200: quickReplyView },
        },
      },
      async (request) =>
        quickReplyJson(
          await updateQuickReply(deps.db, request.params.id, request.body, actorOf(request)),
        ),
    );

    app.delete(
      '/api/admin/quick-replies/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Delete a quick reply',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await deleteQuickReply(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.get(
      '/api/admin/origination-templates',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Origination task templates, by name',
          response: { 200: z.array(originationTemplateView) },
        },
      },
      async () => (await listOriginationTemplates(deps.db)).map(presentOriginationTemplate),
    );

    app.post(
      '/api/admin/origination-templates',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            'Add an origination task template: a text with {{placeholders}}, sent from a fixed number with a fixed strategy',
          body: originationTemplateInput,
          response: { 201: originationTemplateView },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(
            presentOriginationTemplate(
              await createOriginationTemplate(deps.db, request.body, actorOf(request)),
            ),
          ),
    );

    app.patch(
      '/api/admin/origination-templates/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Change a task template's name, number, strategy or text",
          params: idParams,
          body: originationTemplateInput.partial(),
          response: { 200: originationTemplateView },
        },
      },
      async (request) =>
        presentOriginationTemplate(
          await updateOriginationTemplate(
            deps.db,
            request.params.id,
            request.body,
            actorOf(request),
          ),
        ),
    );

    app.delete(
      '/api/admin/origination-templates/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Delete a task template',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await deleteOriginationTemplate(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.get(
      '/api/quick-replies',
      {
        schema: {
          tags: ['conversations'],
          summary:
            'Quick replies I may use, by title: those for everyone and those of my queues (supervisors and admins: all)',
          response: {
            200: z.array(quickReplyView.omit({ createdAt: true }).meta({ id: 'QuickReplyForUse' })),
          },
        },
      },
      (request) => quickRepliesFor(deps.db, currentUser(request)),
    );
  });
}

/**
 * Adds a number that Twilio has on the account: read as typed, made to exist first in the
 * demo, looked up on Twilio, then saved with what Twilio said of it (nothing is saved when
 * Twilio has no such number or cannot be asked).
 */
async function addNumber(deps: AdminDeps, input: NumberInput, by: AuditActor): Promise<NumberRow> {
  // What Parley can say itself comes before asking Twilio.
  await assertNumberRefs(deps.db, input);
  const { address, kind } = await readNumberAddress(deps.db, input);
  if (deps.prepareNumberOnTwilio) {
    const { accountSid } = await getAccountCredentials(deps.db, deps.secretBox, input.accountId);
    await deps.prepareNumberOnTwilio({ accountSid, address, kind });
  }
  const client = await deps.clients.forAccount(input.accountId);
  const onTwilio = await lookUpNumber(client, {
    address,
    kind,
    messagingServiceSid: input.messagingServiceSid ?? null,
  });
  return createNumber(deps.db, { ...input, address, kind }, onTwilio, by);
}
