import { eq, inArray, type SQL, sql } from 'drizzle-orm';
import { channelOfKind } from '../addresses.js';
import type { NumberRow } from '../admin/numbers.js';
import type { InboundMessage } from '../channels/twilio/webhooks.js';
import { classifyKeyword } from '../consent/consent.js';
import { contactLanguages, mergeContactAttributes } from '../consent/contacts.js';
import {
  type NewConversation,
  openConversations,
  pairKey,
} from '../conversations/conversations.js';
import { touchedByCustomerFrom } from '../conversations/lifecycle.js';
import { GroupCommit } from '../db/group-commit.js';
import { jsonRecords } from '../db/json-params.js';
import { messages, numbers } from '../db/schema.js';
import { type Db, type Executor, inOneStatement, queryPrepared, type Tx } from '../db/store.js';
import { inTransaction, retryingConflicts } from '../db/transactions.js';
import { appendEvents, appendEventsFrom } from '../event-log.js';
import { type Flow, isFlowOpen } from '../flows/flows.js';
import { customerLanguage, messageFor } from '../flows/messages.js';
import { pairsAwaitingSurvey } from '../flows/surveys.js';
import { renderTemplate } from '../flows/templates.js';
import { enqueueOutbounds } from '../outbound/outbox.js';
import { queueFromFlow } from '../routing/queueing.js';
import { answeringOutreach, greets, joinOutreach } from './outreach-replies.js';
import { type InboundOutcome, receiveInbound } from './receive.js';

interface Waiting {
  number: NumberRow;
  inbound: InboundMessage;
  receivedAt: Date;
  flow: Flow | undefined;
}

/**
 * Group commit for inbound messages (see db/group-commit.ts). Texts — into conversations
 * already open, the bulk of a contact center's traffic, and texts opening one, a burst of
 * which follows a campaign or an outage — are stored together with the texts that arrived
 * with them, up to 64 at a time: those into open conversations in one statement, the
 * others in one transaction of a few set-based statements, and each webhook is answered
 * once its text has committed. The rest takes the per-message
 * path (`receiveInbound`): pictures, consent keywords, a text the batch left out (see
 * storeBatch), and a text that failed its batch.
 */
export class InboundBatcher {
  readonly #db: Db;
  readonly #batches: GroupCommit<Waiting, InboundOutcome>;

  constructor(db: Db) {
    this.#db = db;
    this.#batches = new GroupCommit({
      maxBatch: 64,
      maxInFlight: 2,
      // A second delivery of a SID waits for a later batch, where the first is stored (or
      // being stored: the unique index makes it wait for that commit) and it is answered as
      // the duplicate it is.
      distinctKey: (item) => item.inbound.messageSid,
      commit: (batch) => storeBatch(db, batch),
      alone: (item) => receiveInbound(db, item.number, item.flow, item.inbound, item.receivedAt),
    });
  }

  receive(
    number: NumberRow,
    flow: Flow | undefined,
    inbound: InboundMessage,
    receivedAt = new Date(),
  ): Promise<InboundOutcome> {
    if (
      inbound.media.length > 0 ||
      classifyKeyword(inbound.body, inbound.optOutType, number.kind)
    ) {
      return receiveInbound(this.#db, number, flow, inbound, receivedAt);
    }
    return this.#batches.submit({ number, flow, inbound, receivedAt });
  }
}

/**
 * Stores the batch's texts and returns their outcomes: those into conversations already
 * open, in one statement that is its own transaction, then, in one transaction, the others
 * and those that open a conversation (with the flow's first step: the hours check, the
 * initial or out-of-hours response, and, when the flow has nothing more to do first, the
 * hand-over to routing). The two parts hold different senders' texts (see storeIntoOpen),
 * so neither needs the other's commit. Left out, for the per-message path: a text whose
 * conversation opened or closed under the batch, a text from a sender a survey waits on (it
 * may be its answer: see flows/surveys.ts), a stored SID's replay that would open a
 * conversation, one that the flow closes out of hours, and a text of the second part that
 * fails alone (see storeRest).
 *
 * Once the first statement has committed this never rejects: a rejected batch is stored
 * again in halves, where its texts just stored would read as replays.
 */
async function storeBatch(db: Db, batch: Waiting[]): Promise<Map<Waiting, InboundOutcome>> {
  const outcomes = new Map<Waiting, InboundOutcome>();
  const rest = await storeIntoOpen(db, batch, outcomes);
  await storeRest(db, rest, outcomes);
  return outcomes;
}

/**
 * The second part of a batch, in one transaction; when it fails, in halves, one after the
 * other, until a failing text is alone and left out. So the others are stored in their
 * order, as GroupCommit would store a failed batch, and a sender's texts never race each
 * other on the per-message path.
 */
async function storeRest(
  db: Db,
  rest: Waiting[],
  outcomes: Map<Waiting, InboundOutcome>,
): Promise<void> {
  if (rest.length === 0) return;
  try {
    const stored = await inTransaction(db, async (tx) => {
      const attempt = new Map<Waiting, InboundOutcome>();
      await storeOthers(tx, rest, attempt);
      return attempt;
    });
    for (const [item, outcome] of stored) outcomes.set(item, outcome);
  } catch {
    if (rest.length === 1) return;
    const half = Math.ceil(rest.length / 2);
    await storeRest(db, rest.slice(0, half), outcomes);
    await storeRest(db, rest.slice(half), outcomes);
  }
}

interface StoredIntoOpen {
  n: number;
  conversation_id: string;
  message_id: string | null;
  flow_due: boolean | null;
}

/**
 * The common case in one statement: texts into conversations already open, from contacts
 * that already hold what each of their texts tells (FromCity, …). Locks those open
 * conversations in id order (as storeOthers does, so two batches cannot deadlock), stores
 * the texts (a stored SID is a replay: nothing is written for it), touches the
 * conversations and logs the events, all committed with the statement. Sets the outcomes
 * of the texts it placed and returns the others, for storeOthers. A sender's texts all
 * take one of the two ways: the other writes the contact before locking the conversation,
 * as the per-message path does, and keeps their texts in order.
 */
async function storeIntoOpen(
  db: Db,
  batch: Waiting[],
  outcomes: Map<Waiting, InboundOutcome>,
): Promise<Waiting[]> {
  const rows = batch.map((item, n) => ({
    n,
    number_id: item.number.id,
    address: item.inbound.from,
    to_address: item.number.address,
    body: item.inbound.body,
    twilio_sid: item.inbound.messageSid,
    created_at: item.receivedAt,
    told: item.inbound.location,
  }));
  const stored = await retryingConflicts(() =>
    inOneStatement(db, (statement) =>
      queryPrepared<StoredIntoOpen>(
        statement,
        sql`WITH k AS (
          SELECT * FROM ${jsonRecords(
            rows,
            `n int, number_id uuid, address text, to_address text, body text, twilio_sid text,
             created_at timestamptz, told jsonb`,
          )} AS k),
        known AS (
          SELECT DISTINCT k.address FROM k
          WHERE NOT EXISTS (
            SELECT 1 FROM k told WHERE told.address = k.address AND NOT EXISTS (
              SELECT 1 FROM contacts ct
              WHERE ct.address = told.address AND ct.attributes @> told.told))),
        open AS MATERIALIZED (${lockOpenOfPairs(
          sql`(SELECT number_id, address FROM k WHERE address IN (SELECT address FROM known)) AS p`,
        )}),
        placed AS MATERIALIZED (
          SELECT k.*, o.id AS conversation_id FROM k
          JOIN open o ON o.number_id = k.number_id AND o.customer_address = k.address
         WHERE o.state <> 'closed'),
        inserted AS (
          INSERT INTO messages (conversation_id, number_id, direction, author, from_address,
                                to_address, body, twilio_sid, status, created_at)
          SELECT conversation_id, number_id, 'inbound', 'customer', address, to_address, body,
                 twilio_sid, 'received', created_at
            FROM placed ORDER BY n
          ON CONFLICT (twilio_sid) DO NOTHING
          RETURNING id, twilio_sid),
        fresh AS MATERIALIZED (
          SELECT p.*, i.id AS message_id FROM placed p JOIN inserted i USING (twilio_sid)),
        touched AS (${touchedByCustomerFrom(
          sql`SELECT conversation_id, max(created_at) AS at FROM fresh GROUP BY conversation_id`,
        )}),
        logged AS (${appendEventsFrom(
          statement,
          'message.received',
          sql`SELECT n, conversation_id, NULL::uuid AS agent_id,
                     jsonb_build_object('messageId', message_id, 'from', address, 'body', body,
                                        'numMedia', 0) AS payload
                FROM fresh`,
        )})
        SELECT p.n, p.conversation_id, f.message_id, t.flow_due
          FROM placed p
          LEFT JOIN fresh f USING (n)
          LEFT JOIN touched t ON t.id = p.conversation_id`,
      ),
    ),
  );
  const replayed: Waiting[] = [];
  for (const row of stored) {
    const item = batch[row.n]!;
    if (row.message_id === null) {
      replayed.push(item);
      continue;
    }
    outcomes.set(item, {
      duplicate: false,
      messageId: row.message_id,
      conversationId: row.conversation_id,
      flowDue: row.flow_due ?? false,
      mediaPending: false,
      queuedIn: null,
    });
  }
  // The statement has committed: a failure here leaves the replays to the per-message path.
  await replayOutcomes(db, replayed, outcomes).catch(() => {});
  const placed = new Set(stored.map((row) => row.n));
  return batch.filter((_, n) => !placed.has(n));
}

/** Outcomes of replayed SIDs: duplicates, and whether the stored one is the same account's. */
async function replayOutcomes(
  tx: Executor,
  replayed: Waiting[],
  outcomes: Map<Waiting, InboundOutcome>,
): Promise<void> {
  if (replayed.length === 0) return;
  const owners = await tx
    .select({ sid: messages.twilioSid, accountId: numbers.accountId })
    .from(messages)
    .innerJoin(numbers, eq(numbers.id, messages.numberId))
    .where(
      inArray(
        messages.twilioSid,
        replayed.map((item) => item.inbound.messageSid),
      ),
    );
  const ownerOf = new Map(owners.map((row) => [row.sid!, row.accountId]));
  for (const item of replayed) {
    outcomes.set(item, {
      duplicate: true,
      sameAccount: ownerOf.get(item.inbound.messageSid) === item.number.accountId,
    });
  }
}

/**
 * The rest of a batch, in the caller's transaction: texts whose contact learns something,
 * and texts that open a conversation (see storeBatch).
 */
async function storeOthers(
  tx: Tx,
  batch: Waiting[],
  outcomes: Map<Waiting, InboundOutcome>,
): Promise<void> {
  const told = new Map<string, Record<string, string>>();
  for (const item of batch) {
    told.set(item.inbound.from, { ...told.get(item.inbound.from), ...item.inbound.location });
  }
  const contactOf = await mergeContactAttributes(tx, told);

  // Locked in id order, so two batches cannot deadlock; a conversation closed meanwhile is
  // not returned (the lock waits for the close to commit, and the state is read after).
  const keys = [...new Map(batch.map((item) => [conversationKey(item), item])).values()].map(
    (item) => ({ number_id: item.number.id, address: item.inbound.from }),
  );
  const open = await queryPrepared<{ id: string; number_id: string; customer_address: string }>(
    tx,
    sql`WITH locked AS MATERIALIZED (${lockOpenOfPairs(
      sql`${jsonRecords(keys, 'number_id uuid, address text')} AS p`,
    )})
        SELECT id, number_id, customer_address FROM locked WHERE state <> 'closed'`,
  );
  const conversationOf = new Map(
    open.map((row) => [pairKey(row.number_id, row.customer_address), row.id]),
  );
  // A sender a survey waits on may be answering it: the per-message path reads their text.
  const unplaced = batch.filter((item) => !conversationOf.has(conversationKey(item)));
  const surveyed = await pairsAwaitingSurvey(
    tx,
    unplaced.map((item) => ({ numberId: item.number.id, address: item.inbound.from })),
  );
  const { opened, answering } = await openConversationsFor(
    tx,
    unplaced.filter((item) => !surveyed.has(conversationKey(item))),
    contactOf,
  );
  for (const [key, id] of opened) conversationOf.set(key, id);
  const placed = batch.filter((item) => conversationOf.has(conversationKey(item)));
  if (placed.length === 0) return;

  // The MessageSid's unique constraint makes a replayed or fallback delivery a no-op. The
  // rows travel as one JSON parameter: far cheaper to build and send than ten per message.
  const rows = placed.map((item) => ({
    conversation_id: conversationOf.get(conversationKey(item))!,
    number_id: item.number.id,
    from_address: item.inbound.from,
    to_address: item.number.address,
    body: item.inbound.body,
    twilio_sid: item.inbound.messageSid,
    created_at: item.receivedAt,
  }));
  const inserted = await queryPrepared<{ id: string; twilio_sid: string }>(
    tx,
    sql`INSERT INTO messages (conversation_id, number_id, direction, author, from_address,
                              to_address, body, twilio_sid, status, created_at)
        SELECT m.conversation_id, m.number_id, 'inbound', 'customer', m.from_address,
               m.to_address, m.body, m.twilio_sid, 'received', m.created_at
          FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS m(conversation_id uuid,
               number_id uuid, from_address text, to_address text, body text,
               twilio_sid text, created_at timestamptz)
        ON CONFLICT (twilio_sid) DO NOTHING
        RETURNING id, twilio_sid`,
  );
  const messageIdOf = new Map(inserted.map((row) => [row.twilio_sid, row.id]));
  const fresh = placed.filter((item) => messageIdOf.has(item.inbound.messageSid));
  const freshKeys = new Set(fresh.map(conversationKey));
  if ([...opened.keys()].some((key) => !freshKeys.has(key))) {
    // Its text was stored meanwhile by a replay on another instance, so the conversation
    // would wait with no text: the batch is stored again in halves (storeRest), where that
    // SID reads as stored and opens nothing.
    throw new Error('a conversation opened for a text stored meanwhile');
  }
  await replayOutcomes(
    tx,
    placed.filter((item) => !messageIdOf.has(item.inbound.messageSid)),
    outcomes,
  );
  if (fresh.length === 0) return;

  // The customer's activity, and flow work due for a conversation still with the bot (a
  // conversation opened here has both already).
  const lastAt = new Map<string, Date>();
  for (const item of fresh) {
    if (opened.has(conversationKey(item))) continue;
    const id = conversationOf.get(conversationKey(item))!;
    const known = lastAt.get(id);
    if (!known || known < item.receivedAt) lastAt.set(id, item.receivedAt);
  }
  const touched =
    lastAt.size === 0
      ? []
      : await queryPrepared<{ id: string; flow_due: boolean }>(
          tx,
          touchedByCustomerFrom(
            sql`SELECT k.id AS conversation_id, k.at
                  FROM ${jsonRecords(
                    [...lastAt].map(([id, at]) => ({ id, at })),
                    'id uuid, at timestamptz',
                  )} AS k`,
          ),
        );
  const flowDue = new Map(touched.map((row) => [row.id, row.flow_due]));

  await appendEvents(
    tx,
    'message.received',
    fresh.map((item) => ({
      refs: { conversationId: conversationOf.get(conversationKey(item))! },
      payload: {
        messageId: messageIdOf.get(item.inbound.messageSid)!,
        from: item.inbound.from,
        body: item.inbound.body,
        numMedia: 0,
      },
    })),
  );
  const started = await startFlows(
    tx,
    fresh.filter((item) => opened.has(conversationKey(item))),
    opened,
    answering,
  );
  for (const item of fresh) {
    const conversationId = conversationOf.get(conversationKey(item))!;
    const stillInFlow = opened.has(conversationKey(item))
      ? !started.handedOver.has(conversationId)
      : (flowDue.get(conversationId) ?? false);
    outcomes.set(item, {
      duplicate: false,
      messageId: messageIdOf.get(item.inbound.messageSid)!,
      conversationId,
      flowDue: stillInFlow,
      mediaPending: false,
      queuedIn: started.waitingIn.get(conversationId) ?? null,
    });
  }
}

/**
 * Opens the conversations of texts from customers with none open: those whose flow has
 * nothing to do before routing (opensQueued) open already waiting in their queue. Left
 * out (absent from `opened`, of conversation ids by pairKey): texts whose SID is stored
 * already (a replay must not open anything), and texts that the flow closes because it is
 * out of hours. `answering`: the pairs answering an agent's outreach.
 */
async function openConversationsFor(
  tx: Tx,
  unplaced: Waiting[],
  contactOf: ReadonlyMap<string, string>,
): Promise<{ opened: Map<string, string>; answering: Set<string> }> {
  if (unplaced.length === 0) return { opened: new Map(), answering: new Set() };
  const stored = new Set(
    (
      await tx
        .select({ sid: messages.twilioSid })
        .from(messages)
        .where(
          inArray(
            messages.twilioSid,
            unplaced.map((item) => item.inbound.messageSid),
          ),
        )
    ).map((row) => row.sid),
  );
  const first = new Map<string, Waiting>();
  for (const item of unplaced) {
    const key = conversationKey(item);
    if (first.has(key) || stored.has(item.inbound.messageSid)) continue;
    const { flow } = item;
    if (flow && flow.outOfHoursAction === 'close' && !isFlowOpen(flow, item.receivedAt)) continue;
    first.set(key, item);
  }
  const answering = await answeringOutreach(
    tx,
    [...first.values()].map((item) => ({
      numberId: item.number.id,
      customerAddress: item.inbound.from,
    })),
  );
  const opening: NewConversation[] = [...first.values()].map((item) => ({
    numberId: item.number.id,
    contactId: contactOf.get(item.inbound.from)!,
    customerAddress: item.inbound.from,
    at: item.receivedAt,
    ...(opensQueued(item, answering) && { queuedIn: { queueId: item.flow?.queueId ?? null } }),
  }));
  return { opened: await openConversations(tx, opening), answering };
}

/**
 * Whether a text's conversation goes to routing at once: its flow has nothing to do first
 * (no bot, no queue position to send) and it does not answer an agent's outreach (its
 * affinity is queueConversation's to honour, from the flow runner).
 */
function opensQueued(item: Waiting, answering: ReadonlySet<string>): boolean {
  return (
    !item.flow?.botUrl && !item.flow?.queuePositionMessage && !answering.has(conversationKey(item))
  );
}

/**
 * The first step of the flows of conversations just opened (`first`: their opening texts
 * and any that followed in the batch): the agent's outreach each answers joins it, the
 * hours check and its response (no greeting for an outreach reply unless the flow wants
 * one), then the hand-over to routing of those opened already queued (opensQueued; the
 * others stay due for the flow runner). Returns the conversations handed over, and the
 * queue each one still waiting there waits in.
 */
async function startFlows(
  tx: Tx,
  first: Waiting[],
  opened: ReadonlyMap<string, string>,
  answering: ReadonlySet<string>,
): Promise<{ handedOver: Set<string>; waitingIn: Map<string, string> }> {
  const starting = [...new Map(first.map((item) => [conversationKey(item), item])).values()];
  const hours = starting.flatMap((item) =>
    item.flow ? [{ item, flow: item.flow, open: isFlowOpen(item.flow, item.receivedAt) }] : [],
  );
  const conversationIdOf = (item: Waiting) => opened.get(conversationKey(item))!;
  const outreach = await joinOutreach(
    tx,
    starting.map((item) => ({
      conversationId: conversationIdOf(item),
      numberId: item.number.id,
      customerAddress: item.inbound.from,
    })),
    answering,
  );
  const languageOf = await contactLanguages(
    tx,
    hours.map(({ item }) => item.inbound.from),
  );
  await appendEvents(
    tx,
    'flow.hours-checked',
    hours.map(({ item, open }) => ({
      refs: { conversationId: conversationIdOf(item) },
      payload: { open },
    })),
  );
  await enqueueOutbounds(
    tx,
    hours.flatMap(({ item, flow, open }) => {
      const kind = open ? ('initial' as const) : ('outOfHours' as const);
      if (open && !greets(flow, outreach.has(conversationIdOf(item)))) return [];
      const language = customerLanguage(flow, languageOf.get(item.inbound.from));
      const body = messageFor(flow, kind, language);
      return body
        ? [
            {
              conversationId: conversationIdOf(item),
              numberId: item.number.id,
              to: item.inbound.from,
              body: renderTemplate(body, { businessName: flow.businessName }),
              author: 'flow' as const,
              automated: { kind },
            },
          ]
        : [];
    }),
  );

  const handing = starting
    .filter((item) => opensQueued(item, answering))
    .map((item) => ({
      conversationId: conversationIdOf(item),
      queueId: item.flow?.queueId ?? null,
      channel: channelOfKind(item.number.kind),
    }));
  return {
    handedOver: new Set(handing.map((entry) => entry.conversationId)),
    waitingIn: await queueFromFlow(tx, handing),
  };
}

/**
 * SQL, the body of a MATERIALIZED CTE: the conversations open for `pairs` (rows named p, of
 * number_id and address), locked in id order, so two batches cannot deadlock, with their
 * state once locked (one closed meanwhile reads closed: the caller leaves it out). Each
 * pair is looked up by index whatever the statistics say: as a join of the pairs with the
 * open conversations it was planned from the conversations' side when they read as nearly
 * all closed, and every open conversation was read for every batch.
 */
function lockOpenOfPairs(pairs: SQL): SQL {
  return sql`SELECT c.id, c.number_id, c.customer_address, c.state FROM conversations c
              WHERE c.id = ANY(ARRAY(
                      SELECT o.id FROM ${pairs} CROSS JOIN LATERAL (
                        SELECT x.id FROM conversations x
                         WHERE x.number_id = p.number_id AND x.customer_address = p.address
                           AND x.state <> 'closed'
                        OFFSET 0) o)) -- OFFSET 0: a lookup per pair, never a join
              ORDER BY c.id
                FOR NO KEY UPDATE OF c`;
}

function conversationKey(item: Waiting): string {
  return pairKey(item.number.id, item.inbound.from);
}
