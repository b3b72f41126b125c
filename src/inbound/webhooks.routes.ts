import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findAccountBySid, getAccountCredentials } from '../admin/accounts.js';
import { findNumberForWebhook, getNumber, type NumberRow } from '../admin/numbers.js';
import { authenticateWebhook } from '../channels/twilio/signature.js';
import {
  accountSidOf,
  addresseeOf,
  EMPTY_TWIML,
  parseInboundMessage,
  parseStatusCallback,
  readWebhookForm,
  STATUS_CALLBACK_PATH,
  WEBHOOK_PATH,
  type WebhookForm,
} from '../channels/twilio/webhooks.js';
import { numberWithOpenConversationInService } from '../conversations/conversations.js';
import type { ConfigCache } from '../db/config-cache.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { flowOfNumber } from '../flows/flows.js';
import type { Metrics, WebhookKind, WebhookRefusal } from '../metrics.js';
import {
  holdStatusReport,
  type StatusReport,
  statusReportBatches,
} from '../outbound/delivery-status.js';
import type { SecretBox } from '../secret-box.js';
import { InboundBatcher } from './batch.js';
import type { InboundKicks } from './receive.js';

export interface WebhookDeps {
  db: Db;
  secretBox: SecretBox;
  publicUrl: string;
  /** WEBHOOK_FALLBACK_URL: Twilio signs a fallback delivery with it. */
  webhookFallbackUrl: string;
  kicks: InboundKicks;
  /** Numbers, credentials and flows, cached in this instance until an admin changes them. */
  configCache: ConfigCache;
  metrics: Metrics;
}

/** A webhook refused for a reason the metrics count; its status follows from its code. */
class WebhookRefused extends AppError {
  constructor(
    readonly reason: Exclude<WebhookRefusal, 'malformed' | 'error'>,
    message: string,
  ) {
    super('forbidden', message);
  }
}

const KIND_OF_PATH: Record<string, WebhookKind> = {
  [WEBHOOK_PATH]: 'message',
  [STATUS_CALLBACK_PATH]: 'status',
};

/** The form, with a warning logged when text had to be replaced to be stored. */
function readForm(request: FastifyRequest): WebhookForm {
  const form = readWebhookForm(request.body);
  if (form.replaced.length > 0) {
    request.log.warn({ fields: form.replaced }, 'replaced characters PostgreSQL cannot store');
  }
  return form;
}

function authenticate(
  request: FastifyRequest,
  deps: WebhookDeps,
  credentials: { accountSid: string; authToken: string },
  form: WebhookForm,
): void {
  try {
    authenticateWebhook(form, {
      credentials,
      signature: request.headers['x-twilio-signature'],
      publicUrl: deps.publicUrl,
      fallbackBaseUrl: deps.webhookFallbackUrl,
      pathAndQuery: request.url,
    });
  } catch (error) {
    if (error instanceof AppError) throw new WebhookRefused('bad_signature', error.message);
    throw error;
  }
}

/**
 * Answers a refused webhook with its status and the status's name only, so that an unsigned
 * request cannot probe which numbers, accounts or messages Parley knows; the reason is logged.
 */
function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  refusals: WeakMap<FastifyRequest, WebhookRefusal>,
) {
  if (!(error instanceof AppError)) throw error;
  refusals.set(request, error instanceof WebhookRefused ? error.reason : 'malformed');
  request.log.warn({ status: error.status, reason: error.message }, 'Twilio webhook refused');
  return reply.status(error.status).type('text/plain').send(STATUS_CODES[error.status]);
}

/**
 * Inbound messages and status callbacks from Twilio. Each is checked against its signature
 * with the auth token of the account that owns the number (or the message) it is about, and
 * must name that account; anything else is refused before it changes anything.
 */
export function registerWebhookRoutes(app: FastifyInstance, deps: WebhookDeps): void {
  const inboundBatcher = new InboundBatcher(deps.db);
  const statusReports = statusReportBatches(deps.db);
  // Counted per request as answered (a batch answers each of its webhooks on its own).
  const refusals = new WeakMap<FastifyRequest, WebhookRefusal>();
  app.addHook('onResponse', async (request, reply) => {
    const kind = KIND_OF_PATH[request.routeOptions.url ?? ''];
    if (!kind) return;
    deps.metrics.webhooksReceived.inc({ kind });
    deps.metrics.webhookDuration.observe({ kind }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 400) {
      // Refused before the handler (a body too large or not a form) is malformed too.
      const reason = refusals.get(request) ?? (reply.statusCode >= 500 ? 'error' : 'malformed');
      deps.metrics.webhooksRefused.inc({ kind, reason });
    }
  });
  app.post(WEBHOOK_PATH, { schema: { hide: true } }, async (request, reply) => {
    try {
      const form = readForm(request);
      const { to, messagingServiceSid: service } = addresseeOf(form);
      const addressed = await deps.configCache.get(`number:${to}:${service ?? ''}`, () =>
        findNumberForWebhook(deps.db, { to, messagingServiceSid: service }),
      );
      if (!addressed) {
        throw new WebhookRefused(
          'unknown_number',
          'no number configured for this To or MessagingServiceSid',
        );
      }
      const credentials = await deps.configCache.get(`credentials:${addressed.accountId}`, () =>
        getAccountCredentials(deps.db, deps.secretBox, addressed.accountId),
      );
      authenticate(request, deps, credentials, form);
      const inbound = parseInboundMessage(form);
      const number = await numberOfConversation(deps, addressed, service, inbound.from);
      if (number.archivedAt) {
        // Never lose a text: stored and answered as before, and said where operators look.
        request.log.warn(
          { number: number.address },
          'text to an archived number: stored and routed as before; restore the number or release it on Twilio',
        );
      }
      const flow = await deps.configCache.get(`flow-of-number:${number.id}`, () =>
        flowOfNumber(deps.db, number.id),
      );
      const outcome = await inboundBatcher.receive(number, flow, inbound);
      if (outcome.duplicate) {
        // Twilio's SIDs are unique: another account's message under this SID is a forgery.
        if (!outcome.sameAccount) {
          throw new WebhookRefused(
            'foreign_message',
            `MessageSid ${inbound.messageSid} is another account's`,
          );
        }
        request.log.info(
          { messageSid: inbound.messageSid },
          'duplicate delivery of a stored message',
        );
      } else {
        const { conversationId, flowDue, mediaPending, queuedIn } = outcome;
        if (flowDue && conversationId) deps.kicks.flowDue(conversationId);
        if (mediaPending) deps.kicks.mediaDue();
        if (queuedIn) deps.kicks.queued(queuedIn);
      }
      return reply.type('text/xml').send(EMPTY_TWIML);
    } catch (error) {
      return refuse(request, reply, error, refusals);
    }
  });

  app.post(STATUS_CALLBACK_PATH, { schema: { hide: true } }, async (request, reply) => {
    try {
      const form = readForm(request);
      const accountSid = accountSidOf(form);
      const account = accountSid
        ? await deps.configCache.get(`account-by-sid:${accountSid}`, () =>
            findAccountBySid(deps.db, deps.secretBox, accountSid),
          )
        : undefined;
      if (!accountSid || !account) {
        throw new WebhookRefused('unknown_account', 'AccountSid is not an account of Parley');
      }
      authenticate(request, deps, { accountSid, authToken: account.authToken }, form);
      const report: StatusReport = { ...parseStatusCallback(form), accountId: account.id };
      // The callback can overtake the dispatcher storing the SID Twilio just returned: then
      // it is held for the dispatcher, while the account has a send it awaits the answer
      // of. A last look covers a SID stored between the first and the hold.
      const known =
        (await statusReports.submit(report)) ||
        (await holdStatusReport(deps.db, report)) ||
        (await statusReports.submit(report));
      if (!known) {
        throw new WebhookRefused(
          'unknown_message',
          `no message ${report.messageSid} of account ${accountSid}`,
        );
      }
      return reply.status(204).send();
    } catch (error) {
      return refuse(request, reply, error, refusals);
    }
  });
}

/**
 * The number whose conversation a text belongs to. Written through a Messaging Service, it
 * joins the customer's open conversation on any number of the service (Twilio may answer
 * from another number of the pool than the one the customer wrote to); else it is the
 * number written to.
 */
async function numberOfConversation(
  deps: WebhookDeps,
  addressed: NumberRow,
  service: string | undefined,
  from: string,
): Promise<NumberRow> {
  if (!service || addressed.messagingServiceSid !== service) return addressed;
  const numberId = await numberWithOpenConversationInService(deps.db, service, from);
  if (!numberId || numberId === addressed.id) return addressed;
  return deps.configCache.get(`number-by-id:${numberId}`, () => getNumber(deps.db, numberId));
}
