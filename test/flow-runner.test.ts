import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NumberRow } from '../src/admin/numbers.js';
import { conversations, events } from '../src/db/schema.js';
import type { Store } from '../src/db/store.js';
import { closeInactiveConversations, startFlowRunner } from '../src/flows/flow-runner.js';
import { createFlow, type Flow } from '../src/flows/flows.js';
import { InboundBatcher } from '../src/inbound/batch.js';
import { createLogger } from '../src/logger.js';
import {
  buildFlow,
  buildNumber,
  conversationInFlow,
  conversationRow,
  hex,
  phoneNumber,
} from './helpers/factories.js';
import { openTestStore } from './helpers/store.js';

let store: Store;
let bot: Server;
let flow: Flow;
let number: NumberRow;
/** Resolved when the bot is asked; the bot answers once `answer` is called. */
let asked: Promise<void>;
let answer: () => void;
const order: string[] = [];

beforeAll(async () => {
  store = await openTestStore();
  let onAsked: () => void;
  asked = new Promise((resolve) => {
    onAsked = resolve;
  });
  const answered = new Promise<void>((resolve) => {
    answer = resolve;
  });
  bot = createServer(async (request, response) => {
    for await (const _ of request);
    onAsked();
    await answered;
    order.push('bot answered');
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ reply: 'One moment', action: 'continue' }));
  });
  bot.listen(0, '127.0.0.1');
  await once(bot, 'listening');
  const botUrl = `http://127.0.0.1:${(bot.address() as { port: number }).port}/bot`;
  flow = await createFlow(store.db, { name: 'Slow bot', botUrl, botRetries: 0 });
  number = await buildNumber(store.db, { flowId: flow.id });
});
afterAll(async () => {
  bot?.close();
  await store?.close();
});

describe('the flow runner', () => {
  it('finishes a flow step it was asked to take before it stops', async () => {
    const outcome = await new InboundBatcher(store.db).receive(number, flow, {
      messageSid: `SM${hex(16)}`,
      from: phoneNumber(),
      to: number.address,
      body: 'hello',
      media: [],
      location: {},
    });
    if (outcome.duplicate) throw new Error('expected a stored message');
    expect(outcome.flowDue).toBe(true);

    const runner = startFlowRunner({
      db: store.db,
      logger: createLogger('silent'),
      instanceId: randomUUID(),
    });
    runner.advance(outcome.conversationId!);
    await asked;
    const stopping = runner.stop().then(() => order.push('stopped'));
    // A stop that did not wait for the step would have resolved by the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    answer();
    await stopping;

    expect(order).toEqual(['bot answered', 'stopped']);
    const logged = await store.db
      .select({ type: events.type })
      .from(events)
      .where(
        and(
          eq(events.conversationId, outcome.conversationId!),
          eq(events.type, 'flow.bot-answered'),
        ),
      );
    expect(logged).toHaveLength(1);
  });

  it("closes the conversations quiet past their own flow's limit, a tick's worth at a time", async () => {
    const limited = await buildNumber(store.db, {
      flowId: (await buildFlow(store.db, { inactivityCloseMinutes: 5 })).id,
    });
    const unlimited = await buildNumber(store.db, { flowId: (await buildFlow(store.db)).id });
    const quietFor = async (numberId: string, minutes: number) => {
      const conversation = await conversationInFlow(store.db, numberId);
      await store.db
        .update(conversations)
        .set({ lastMessageAt: new Date(Date.now() - minutes * 60_000) })
        .where(eq(conversations.id, conversation.id));
      return conversation.id;
    };
    const pastLimit = [await quietFor(limited.id, 6), await quietFor(limited.id, 60)];
    const [recent, noLimit] = [await quietFor(limited.id, 4), await quietFor(unlimited.id, 600)];

    expect(await closeInactiveConversations(store.db, 1)).toBe(1);
    expect(await closeInactiveConversations(store.db, 50)).toBe(1);
    expect(await closeInactiveConversations(store.db, 50)).toBe(0);

    const rows = await store.db
      .select({
        id: conversations.id,
        state: conversations.state,
        reason: conversations.closeReason,
      })
      .from(conversations)
      .where(inArray(conversations.id, [...pastLimit, recent, noLimit]));
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const id of pastLimit) {
      expect(byId.get(id)).toMatchObject({ state: 'closed', reason: 'inactivity' });
    }
    expect((await conversationRow(store.db, recent)).state).not.toBe('closed');
    expect((await conversationRow(store.db, noLimit)).state).not.toBe('closed');
  });
});
