import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import {
  createTwilioClient,
  describeTwilioError,
  pointWhatsAppSender,
} from '../channels/twilio/client.js';
import type { TwilioClients } from '../channels/twilio/clients.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import type { SecretBox } from '../secret-box.js';
import {
  type AccountCredentials,
  accountPatchSchema,
  changesCredentials,
  createAccount,
  getAccountCredentials,
  listAccounts,
  newAccountSchema,
  patchedCredentials,
  updateAccount,
} from './accounts.js';
import { agentInput, agentPatch, createAgent, listAgents, updateAgent } from './agents.js';
import {
  createNumber,
  getNumber,
  listNumbers,
  numberInput,
  presentNumber,
  STATUS_CALLBACK_PATH,
  updateNumber,
  WEBHOOK_PATH,
} from './numbers.js';
import { createQueue, getQueue, listQueues, queueInput, updateQueue } from './queues.js';
import {
  createQuickReply,
  deleteQuickReply,
  listQuickReplies,
  type QuickReply,
  quickRepliesFor,
  quickReplyInput,
  updateQuickReply,
} from './quick-replies.js';

export interface AdminDeps {
  db: Db;
  secretBox: SecretBox;
  clients: TwilioClients;
  publicUrl: string;
}

const idParams = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });
const quickReplyView = z.object({
  id: z.string(),
  title: z.string(),
  body: z.string(),
  queueId: z.string().nullable(),
  createdAt: z.iso.datetime(),
});
const quickReplyJson = (row: QuickReply) => ({ ...row, createdAt: row.createdAt.toISOString() });

/**
 * Configuration of accounts, numbers, queues, agents and quick replies (flows are
 * flows.routes.ts's): admins only; and the quick replies a signed-in user may use, which
 * the desk reads.
 */
export function registerAdminRoutes(parent: FastifyInstance, deps: AdminDeps): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: requireRole('admin') };

    app.get(
      '/api/admin/accounts',
      { ...admin, schema: { tags: ['admin'], summary: 'Twilio accounts (no secrets)' } },
      () => listAccounts(deps.db),
    );

    app.post(
      '/api/admin/accounts',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Add a Twilio account; the credentials are checked against Twilio first',
          body: newAccountSchema,
        },
      },
      async (request, reply) => {
        const body = request.body;
        await checkWithTwilio(
          {
            accountSid: body.accountSid,
            authToken: body.authToken,
            apiKeySid: body.apiKeySid ?? null,
            apiKeySecret: body.apiKeySecret ?? null,
          },
          deps.clients.apiUrl,
        );
        return reply.status(201).send(await createAccount(deps.db, deps.secretBox, body));
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
        },
      },
      async (request) => {
        const { id } = request.params;
        if (changesCredentials(request.body)) {
          const current = await getAccountCredentials(deps.db, deps.secretBox, id);
          await checkWithTwilio(patchedCredentials(current, request.body), deps.clients.apiUrl);
        }
        const account = await updateAccount(deps.db, deps.secretBox, id, request.body);
        // The announcement clears every instance's clients when it arrives; this one at once.
        deps.clients.forget(id);
        return account;
      },
    );

    app.get(
      '/api/admin/numbers',
      { ...admin, schema: { tags: ['admin'], summary: 'Numbers, with the URLs to give Twilio' } },
      async () => (await listNumbers(deps.db)).map((n) => presentNumber(n, deps.publicUrl)),
    );

    app.post(
      '/api/admin/numbers',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Add a number (E.164, short code or whatsapp:+…)',
          body: numberInput,
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(presentNumber(await createNumber(deps.db, request.body), deps.publicUrl)),
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
        },
      },
      async (request) =>
        presentNumber(await updateNumber(deps.db, request.params.id, request.body), deps.publicUrl),
    );

    app.post(
      '/api/admin/numbers/:id/configure-twilio',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Point the Twilio number (or its Messaging Service) at Parley's webhook URLs",
          params: idParams,
        },
      },
      async (request) => {
        const number = await getNumber(deps.db, request.params.id);
        const credentials = await getAccountCredentials(deps.db, deps.secretBox, number.accountId);
        const client = createTwilioClient(credentials, deps.clients.apiUrl);
        const webhookUrl = `${deps.publicUrl}${WEBHOOK_PATH}`;
        const statusCallbackUrl = `${deps.publicUrl}${STATUS_CALLBACK_PATH}`;
        try {
          if (number.messagingServiceSid) {
            await client.messaging.v1.services(number.messagingServiceSid).update({
              inboundRequestUrl: webhookUrl,
              inboundMethod: 'POST',
              statusCallback: statusCallbackUrl,
              useInboundWebhookOnNumber: false,
            });
            return {
              configured: 'messaging-service',
              sid: number.messagingServiceSid,
              webhookUrl,
              statusCallbackUrl,
            };
          }
          if (number.kind === 'whatsapp') {
            // A WhatsApp sender's webhooks are on the sender (Senders API), not on a number.
            const sid = await pointWhatsAppSender(client, number.address, {
              callbackUrl: webhookUrl,
              statusCallbackUrl,
            });
            if (!sid) {
              throw new AppError(
                'unprocessable',
                `Twilio has no WhatsApp sender ${number.address} on this account`,
              );
            }
            return { configured: 'whatsapp-sender', sid, webhookUrl, statusCallbackUrl };
          }
          const [incoming] = await client.incomingPhoneNumbers.list({
            phoneNumber: number.address,
            limit: 1,
          });
          if (!incoming) {
            throw new AppError(
              'unprocessable',
              `Twilio has no number ${number.address} on this account`,
            );
          }
          await client.incomingPhoneNumbers(incoming.sid).update({
            smsUrl: webhookUrl,
            smsMethod: 'POST',
            statusCallback: statusCallbackUrl,
          });
          return { configured: 'number', sid: incoming.sid, webhookUrl, statusCallbackUrl };
        } catch (error) {
          if (error instanceof AppError) throw error;
          const failure = describeTwilioError(error);
          throw new AppError('unavailable', `Twilio did not take the change: ${failure.message}`);
        }
      },
    );

    app.get('/api/admin/queues', { ...admin, schema: { tags: ['admin'], summary: 'Queues' } }, () =>
      listQueues(deps.db),
    );

    app.post(
      '/api/admin/queues',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Add a queue with its members and strategy',
          body: queueInput,
        },
      },
      async (request, reply) => reply.status(201).send(await createQueue(deps.db, request.body)),
    );

    app.get(
      '/api/admin/queues/:id',
      {
        ...admin,
        schema: { tags: ['admin'], summary: 'A queue with its members', params: idParams },
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
        },
      },
      (request) => updateQueue(deps.db, request.params.id, request.body),
    );

    app.get(
      '/api/admin/agents',
      { ...admin, schema: { tags: ['admin'], summary: 'Users with their routing profile' } },
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
        },
      },
      async (request, reply) => reply.status(201).send(await createAgent(deps.db, request.body)),
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
        },
      },
      (request) => updateAgent(deps.db, request.params.id, request.body),
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
        reply.status(201).send(quickReplyJson(await createQuickReply(deps.db, request.body))),
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
        quickReplyJson(await updateQuickReply(deps.db, request.params.id, request.body)),
    );

    app.delete(
      '/api/admin/quick-replies/:id',
      {
        ...admin,
        schema: { tags: ['admin'], summary: 'Delete a quick reply', params: idParams },
      },
      async (request, reply) => {
        await deleteQuickReply(deps.db, request.params.id);
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
            200: z.array(quickReplyView.omit({ createdAt: true })),
          },
        },
      },
      (request) => quickRepliesFor(deps.db, currentUser(request)),
    );
  });
}

/** Twilio's Account fetch with these credentials: 422 when Twilio refuses them. */
async function checkWithTwilio(credentials: AccountCredentials, apiUrl: string): Promise<void> {
  const client = createTwilioClient(credentials, apiUrl);
  try {
    await client.api.v2010.accounts(credentials.accountSid).fetch();
  } catch (error) {
    const failure = describeTwilioError(error);
    if (failure.status === 401 || failure.status === 403 || failure.status === 404) {
      throw new AppError(
        'unprocessable',
        `Twilio refused these credentials: ${failure.message}`,
        'authToken',
      );
    }
    throw new AppError(
      'unavailable',
      `Twilio could not be reached to check the credentials: ${failure.message}`,
    );
  }
}
