/**
 * A contact center's past, made up: thousands of conversations over some days, written in
 * the rows and events Parley itself writes (conversations, messages, offers, survey
 * answers, the event log with its payloads), for the reports to read. Deterministic: the
 * same seed and end give the same history, ids included.
 *
 * `planHistory` makes the plan: per conversation its story (when it opened, queued, reached
 * whom, closed, what was said, scored). `writeHistory` writes a plan's rows. The reports
 * test computes its expected figures from the stories, not from the rows.
 */
import type { DispositionCode } from '../src/db/schema.js';
import {
  accounts,
  contacts,
  conversations,
  events,
  messages,
  numbers,
  offers,
  queueMembers,
  queues,
  surveyResponses,
  users,
} from '../src/db/schema.js';
import type { Db } from '../src/db/store.js';
import type { EventPayloads, EventType, MessageStatus, SurveyScale } from '../src/events.js';

export interface HistoryOptions {
  seed: number;
  conversations: number;
  days: number;
  /** The history ends here: nothing opens in its last 6 hours, so everything has closed. */
  end: Date;
}

export interface PlannedMessage {
  id: string;
  direction: 'inbound' | 'outbound';
  author: 'customer' | 'agent' | 'flow';
  agentId: string | null;
  at: Date;
  body: string;
  status: MessageStatus;
  errorCode: number | null;
  errorMessage: string | null;
}

export interface PlannedOffer {
  id: string;
  agentId: string;
  at: Date;
  decidedAt: Date;
  state: 'accepted' | 'timed-out';
  reason: 'queue' | 'transfer';
}

/** What happened to one conversation; the rows and events follow from it. */
export interface Story {
  id: string;
  numberId: string;
  contactId: string;
  customerAddress: string;
  openedAt: Date;
  /** Null: closed by the flow before any queue. */
  queue: { id: string; at: Date } | null;
  /** Null: nobody took it. */
  answer: { agentId: string; at: Date; via: 'offer' | 'auto-accept' } | null;
  transfers: { fromAgentId: string; toAgentId: string; at: Date }[];
  offers: PlannedOffer[];
  closedAt: Date;
  closeReason: 'ended' | 'out-of-hours' | 'inactivity';
  /** Who had it when it closed. */
  finalAgentId: string | null;
  disposition: string | null;
  messages: PlannedMessage[];
  survey: {
    scale: SurveyScale;
    askedAt: Date;
    score: number | null;
    answeredAt: Date | null;
  } | null;
}

export interface HistoryPlan {
  accountId: string;
  numbers: { id: string; address: string; name: string; scale: SurveyScale }[];
  queues: { id: string; name: string; dispositions: DispositionCode[] }[];
  agents: { id: string; name: string; queueIds: string[] }[];
  contacts: { id: string; address: string }[];
  stories: Story[];
}

export const FAILURE_REASONS: Record<number, string> = {
  30003: 'Unreachable destination handset',
  30005: 'Unknown destination handset',
  30007: 'Message filtered',
  21610: 'Attempt to send to unsubscribed recipient',
};

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** mulberry32: small, fast, good enough to make up a history. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
    /** A UUID (version 4 layout) from the generator, so ids repeat with the seed. */
    uuid: () => {
      const hex = Array.from({ length: 32 }, () => int(0, 15).toString(16));
      hex[12] = '4';
      hex[16] = '89ab'[int(0, 3)]!;
      const s = hex.join('');
      return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
    },
  };
}

/** The plan of a history: a setup (numbers, queues, agents, customers) and its stories. */
export function planHistory(options: HistoryOptions): HistoryPlan {
  const r = random(options.seed);
  const later = (at: Date, ms: number) => new Date(at.getTime() + ms);
  const suffix = options.seed.toString(36);
  const accountId = r.uuid();
  const scales: SurveyScale[] = ['score', 'score', 'yes-no'];
  const numberPlan = ['Sales line', 'Support line', 'Billing line'].map((name, i) => ({
    id: r.uuid(),
    address: `+1555${String(options.seed % 1000).padStart(3, '0')}${String(1000 + i)}`,
    name,
    scale: scales[i]!,
  }));
  const queuePlan = ['Sales', 'Support', 'Billing'].map((name) => ({
    id: r.uuid(),
    name: `${name} ${suffix}`,
    dispositions: [
      { code: `${name.toLowerCase()}-resolved`, label: `${name}: resolved` },
      { code: `${name.toLowerCase()}-follow-up`, label: `${name}: follow-up needed` },
      { code: 'spam', label: 'Spam' },
    ],
  }));
  const agentPlan = Array.from({ length: 8 }, (_, i) => ({
    id: r.uuid(),
    name: `History agent ${i + 1} ${suffix}`,
    queueIds: [queuePlan[i % 3]!.id, ...(i < 3 ? [queuePlan[(i + 1) % 3]!.id] : [])],
  }));
  const contactPlan = Array.from({ length: Math.max(50, options.conversations / 4) }, (_, i) => ({
    id: r.uuid(),
    address: `+1666${String(options.seed % 1000).padStart(3, '0')}${String(i).padStart(4, '0')}`,
  }));

  const start = options.end.getTime() - options.days * 86_400_000;
  const lastOpening = options.end.getTime() - 6 * 3_600_000;
  const stories: Story[] = [];
  // One open conversation per (number, customer): a customer's next one starts after the last.
  const busyUntil = new Map<string, number>();
  for (let i = 0; i < options.conversations; i++) {
    const numberIndex = r.int(0, 2);
    const number = numberPlan[numberIndex]!;
    const contact = r.pick(contactPlan);
    const pair = `${number.id} ${contact.id}`;
    const openedAt = new Date(
      Math.max(start + r.next() * (lastOpening - start), (busyUntil.get(pair) ?? 0) + MINUTE),
    );
    const story = planStory(r, later, {
      id: r.uuid(),
      number,
      contact,
      openedAt,
      queue: queuePlan[numberIndex]!,
      agents: agentPlan,
    });
    busyUntil.set(pair, (story.survey?.answeredAt ?? story.closedAt).getTime());
    stories.push(story);
  }
  return {
    accountId,
    numbers: numberPlan,
    queues: queuePlan,
    agents: agentPlan,
    contacts: contactPlan,
    stories,
  };
}

function planStory(
  r: ReturnType<typeof random>,
  later: (at: Date, ms: number) => Date,
  c: {
    id: string;
    number: HistoryPlan['numbers'][number];
    contact: HistoryPlan['contacts'][number];
    openedAt: Date;
    queue: HistoryPlan['queues'][number];
    agents: HistoryPlan['agents'];
  },
): Story {
  const messageList: PlannedMessage[] = [];
  const say = (
    author: PlannedMessage['author'],
    at: Date,
    body: string,
    agentId: string | null = null,
  ) => {
    const failed = author === 'agent' && r.chance(0.05);
    const code = failed ? r.pick(Object.keys(FAILURE_REASONS).map(Number)) : null;
    messageList.push({
      id: r.uuid(),
      direction: author === 'customer' ? 'inbound' : 'outbound',
      author,
      agentId,
      at,
      body,
      status:
        author === 'customer'
          ? 'received'
          : failed
            ? r.pick(['failed', 'undelivered'])
            : 'delivered',
      errorCode: code,
      errorMessage: code === null ? null : FAILURE_REASONS[code]!,
    });
  };
  say('customer', c.openedAt, 'Hello, I have a question');
  const base = {
    id: c.id,
    numberId: c.number.id,
    contactId: c.contact.id,
    customerAddress: c.contact.address,
    openedAt: c.openedAt,
    messages: messageList,
  };

  if (r.chance(0.08)) {
    const closedAt = later(c.openedAt, r.int(200, 2000));
    say('flow', closedAt, 'We are closed; we open at 9.');
    return {
      ...base,
      queue: null,
      answer: null,
      transfers: [],
      offers: [],
      closedAt,
      closeReason: 'out-of-hours',
      finalAgentId: null,
      disposition: null,
      survey: null,
    };
  }

  const queuedAt = later(c.openedAt, r.int(300, 5 * SECOND));
  const members = c.agents.filter((a) => a.queueIds.includes(c.queue.id));
  const offerList: PlannedOffer[] = [];
  let t = queuedAt;
  // Offers that ran out before anyone took it.
  while (r.chance(0.2)) {
    const at = later(t, r.int(100, 20 * SECOND));
    const decidedAt = later(at, 30 * SECOND);
    offerList.push({
      id: r.uuid(),
      agentId: r.pick(members).id,
      at,
      decidedAt,
      state: 'timed-out',
      reason: 'queue',
    });
    t = decidedAt;
  }

  if (r.chance(0.12)) {
    const closedAt = later(t, r.int(30 * SECOND, 15 * MINUTE));
    return {
      ...base,
      queue: { id: c.queue.id, at: queuedAt },
      answer: null,
      transfers: [],
      offers: offerList,
      closedAt,
      closeReason: 'inactivity',
      finalAgentId: null,
      disposition: null,
      survey: null,
    };
  }

  const agent = r.pick(members);
  const autoAccept = offerList.length === 0 && r.chance(0.1);
  const answeredAt = later(t, r.int(200, r.chance(0.7) ? 50 * SECOND : 8 * MINUTE));
  if (!autoAccept) {
    offerList.push({
      id: r.uuid(),
      agentId: agent.id,
      at: later(answeredAt, -r.int(100, 10 * SECOND)),
      decidedAt: answeredAt,
      state: 'accepted',
      reason: 'queue',
    });
  }
  // The conversation: the agent answers (mostly), then a few exchanges.
  let at = answeredAt;
  let holder = agent.id;
  if (r.chance(0.95)) {
    at = later(at, r.int(2 * SECOND, 4 * MINUTE));
    say('agent', at, 'Hi, how can I help?', holder);
  }
  const transfers: Story['transfers'] = [];
  for (let exchange = r.int(0, 4); exchange > 0; exchange--) {
    at = later(at, r.int(10 * SECOND, 5 * MINUTE));
    say('customer', at, 'Thanks, and another thing');
    at = later(at, r.int(10 * SECOND, 3 * MINUTE));
    say('agent', at, 'Sure, here it is', holder);
  }
  if (r.chance(0.08)) {
    const to = r.pick(c.agents.filter((a) => a.id !== holder));
    at = later(at, r.int(5 * SECOND, MINUTE));
    transfers.push({ fromAgentId: holder, toAgentId: to.id, at });
    const acceptedAt = later(at, r.int(2 * SECOND, 40 * SECOND));
    offerList.push({
      id: r.uuid(),
      agentId: to.id,
      at,
      decidedAt: acceptedAt,
      state: 'accepted',
      reason: 'transfer',
    });
    holder = to.id;
    at = later(acceptedAt, r.int(10 * SECOND, 2 * MINUTE));
    say('agent', at, 'I have taken over', holder);
  }
  const closedAt = later(at, r.int(5 * SECOND, 10 * MINUTE));
  say('flow', closedAt, 'Thanks for writing to us.');
  let survey: Story['survey'] = null;
  if (r.chance(0.7)) {
    say('flow', closedAt, 'How did we do?');
    const answered = r.chance(0.6);
    const answeredAt = answered ? later(closedAt, r.int(10 * SECOND, 90 * MINUTE)) : null;
    const score = !answered
      ? null
      : c.number.scale === 'yes-no'
        ? r.chance(0.8)
          ? 1
          : 0
        : r.pick([1, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5]);
    if (answeredAt) say('customer', answeredAt, String(score));
    survey = { scale: c.number.scale, askedAt: closedAt, score, answeredAt };
  }
  return {
    ...base,
    queue: { id: c.queue.id, at: queuedAt },
    answer: { agentId: agent.id, at: answeredAt, via: autoAccept ? 'auto-accept' : 'offer' },
    transfers,
    offers: offerList,
    closedAt,
    closeReason: 'ended',
    finalAgentId: holder,
    disposition: r.chance(0.85) ? r.pick(c.queue.dispositions).code : null,
    messages: messageList,
    survey,
  };
}

type EventRow = typeof events.$inferInsert;

/** An event row as appendEvent writes it, at a time of the past. */
function event<T extends EventType>(
  at: Date,
  type: T,
  refs: { conversationId: string; agentId?: string | null },
  payload: EventPayloads[T],
): EventRow {
  return {
    type,
    conversationId: refs.conversationId,
    agentId: refs.agentId ?? null,
    payload: payload as unknown as Record<string, unknown>,
    createdAt: at,
  };
}

/** The events of a story, in the order Parley appends them. */
function eventsOf(story: Story, number: HistoryPlan['numbers'][number]): EventRow[] {
  const conversationId = story.id;
  const refs = { conversationId };
  const list: EventRow[] = [
    event(story.openedAt, 'conversation.opened', refs, {
      numberId: story.numberId,
      customerAddress: story.customerAddress,
      origin: 'customer',
    }),
  ];
  for (const m of story.messages) {
    if (m.direction === 'inbound') {
      list.push(
        event(m.at, 'message.received', refs, {
          messageId: m.id,
          from: story.customerAddress,
          body: m.body,
          numMedia: 0,
        }),
      );
      continue;
    }
    list.push(
      event(
        m.at,
        'message.queued',
        { conversationId, agentId: m.agentId },
        {
          messageId: m.id,
          numberId: story.numberId,
          to: story.customerAddress,
          body: m.body,
          author: m.author === 'agent' ? 'agent' : 'flow',
          attachments: 0,
          contentSid: null,
        },
      ),
      event(new Date(m.at.getTime() + 800), 'message.status', refs, {
        messageId: m.id,
        status: m.status,
        errorCode: m.errorCode,
        errorMessage: m.errorMessage,
      }),
    );
  }
  if (!story.queue) {
    list.push(event(story.openedAt, 'flow.hours-checked', refs, { open: false }));
  } else {
    list.push(event(story.queue.at, 'conversation.queued', refs, { queueId: story.queue.id }));
  }
  for (const offer of story.offers) {
    const offerRefs = { conversationId, agentId: offer.agentId };
    list.push(
      event(offer.at, 'offer.created', offerRefs, {
        offerId: offer.id,
        agentId: offer.agentId,
        reason: offer.reason,
        originalText: null,
        expiresAt: new Date(offer.at.getTime() + 30 * SECOND).toISOString(),
        queueId: offer.reason === 'queue' ? (story.queue?.id ?? null) : null,
      }),
      event(
        offer.decidedAt,
        offer.state === 'accepted' ? 'offer.accepted' : 'offer.timed-out',
        offerRefs,
        { offerId: offer.id, agentId: offer.agentId },
      ),
    );
  }
  if (story.answer?.via === 'auto-accept') {
    list.push(
      event(
        story.answer.at,
        'conversation.assigned',
        { conversationId, agentId: story.answer.agentId },
        {
          agentId: story.answer.agentId,
          previousAgentId: null,
          via: 'auto-accept',
          reason: 'queue',
          originalText: null,
          byUserId: null,
        },
      ),
    );
  }
  for (const transfer of story.transfers) {
    list.push(
      event(
        transfer.at,
        'conversation.transferred',
        { conversationId, agentId: transfer.fromAgentId },
        {
          fromAgentId: transfer.fromAgentId,
          toAgentId: transfer.toAgentId,
          toQueueId: null,
          note: 'Over to you',
          byUserId: transfer.fromAgentId,
        },
      ),
    );
  }
  list.push(
    event(
      story.closedAt,
      'conversation.closed',
      { conversationId, agentId: story.finalAgentId },
      {
        reason: story.closeReason,
        byUserId: story.closeReason === 'ended' ? story.finalAgentId : null,
      },
    ),
  );
  if (story.survey?.answeredAt && story.survey.score !== null) {
    const reply = story.messages.find((m) => m.at === story.survey!.answeredAt)!;
    list.push(
      event(story.survey.answeredAt, 'survey.answered', refs, {
        messageId: reply.id,
        scale: number.scale,
        score: story.survey.score,
      }),
    );
  }
  return list;
}

/** Inserts rows in slices, so that no statement passes PostgreSQL's parameter limit. */
async function insertAll<T>(rows: T[], insert: (slice: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) await insert(rows.slice(i, i + 500));
}

/** Writes the plan's setup and history in one transaction. */
export async function writeHistory(db: Db, plan: HistoryPlan): Promise<void> {
  const numberOf = new Map(plan.numbers.map((n) => [n.id, n]));
  await db.transaction(async (tx) => {
    await tx.insert(accounts).values({
      id: plan.accountId,
      name: 'History',
      accountSid: `AC${plan.accountId.replaceAll('-', '')}`,
      authTokenEnc: 'v1.x.y.z',
    });
    await tx.insert(numbers).values(
      plan.numbers.map((n) => ({
        id: n.id,
        accountId: plan.accountId,
        address: n.address,
        kind: 'long-code' as const,
        name: n.name,
      })),
    );
    await tx
      .insert(queues)
      .values(plan.queues.map((q) => ({ id: q.id, name: q.name, dispositions: q.dispositions })));
    await tx.insert(users).values(
      plan.agents.map((a) => ({
        id: a.id,
        email: `${a.id}@history.example.com`,
        name: a.name,
        role: 'agent' as const,
        passwordHash: 'unused',
      })),
    );
    await tx
      .insert(queueMembers)
      .values(plan.agents.flatMap((a) => a.queueIds.map((queueId) => ({ queueId, userId: a.id }))));
    await insertAll(plan.contacts, (slice) => tx.insert(contacts).values(slice));

    const stories = plan.stories;
    await insertAll(stories, (slice) =>
      tx.insert(conversations).values(
        slice.map((s) => ({
          id: s.id,
          numberId: s.numberId,
          contactId: s.contactId,
          customerAddress: s.customerAddress,
          state: 'closed' as const,
          origin: 'customer' as const,
          // Where it waited last: a transfer to an agent keeps the queue.
          queueId: s.queue?.id ?? null,
          agentId: s.finalAgentId,
          queuedAt: s.queue?.at ?? null,
          lastMessageAt: s.messages.at(-1)!.at,
          closedAt: s.closedAt,
          closeReason: s.closeReason,
          disposition: s.disposition,
          createdAt: s.openedAt,
        })),
      ),
    );
    const messageRows = stories.flatMap((s) =>
      s.messages.map((m) => {
        const number = numberOf.get(s.numberId)!;
        return {
          id: m.id,
          conversationId: s.id,
          numberId: s.numberId,
          direction: m.direction,
          author: m.author,
          agentId: m.agentId,
          fromAddress: m.direction === 'inbound' ? s.customerAddress : number.address,
          toAddress: m.direction === 'inbound' ? number.address : s.customerAddress,
          body: m.body,
          twilioSid: `SM${m.id.replaceAll('-', '')}`,
          status: m.status,
          errorCode: m.errorCode,
          errorMessage: m.errorMessage,
          segments: m.direction === 'outbound' ? 1 : null,
          createdAt: m.at,
        };
      }),
    );
    await insertAll(messageRows, (slice) => tx.insert(messages).values(slice));
    const offerRows = stories.flatMap((s) =>
      s.offers.map((o) => ({
        id: o.id,
        conversationId: s.id,
        agentId: o.agentId,
        state: o.state,
        reason: o.reason,
        expiresAt: new Date(o.at.getTime() + 30 * SECOND),
        decidedAt: o.decidedAt,
        createdAt: o.at,
      })),
    );
    await insertAll(offerRows, (slice) => tx.insert(offers).values(slice));
    const surveyRows = stories.flatMap((s) =>
      s.survey
        ? [
            {
              conversationId: s.id,
              numberId: s.numberId,
              customerAddress: s.customerAddress,
              scale: s.survey.scale,
              askedAt: s.survey.askedAt,
              score: s.survey.score,
              answeredAt: s.survey.answeredAt,
            },
          ]
        : [],
    );
    await insertAll(surveyRows, (slice) => tx.insert(surveyResponses).values(slice));
    // The log in time order, as it was written.
    const eventRows = stories
      .flatMap((s) => eventsOf(s, numberOf.get(s.numberId)!))
      .sort((a, b) => (a.createdAt as Date).getTime() - (b.createdAt as Date).getTime());
    await insertAll(eventRows, (slice) => tx.insert(events).values(slice));
  });
}
