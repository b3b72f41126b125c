/**
 * Who may read a conversation (its transcript, media and live events), written once:
 * supervisors and admins read every conversation; an agent reads those assigned to them (now
 * or last), the one offered to them now, and the past conversations of a customer they are
 * talking to now. The REST routes ask it of one conversation for one user
 * (canReadConversation, readableConversation); the realtime gateway of a batch of events'
 * conversations for every connection at once (readersOf). Both read the agents' side of the
 * rule from one statement, agentReaders.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import { currentUser } from '../auth/guard.js';
import type { Role } from '../auth/users.js';
import { type Db, type Executor, queryRows } from '../db/store.js';
import { AppError } from '../errors.js';

/** Whether the role reads every conversation (supervisors and admins), not only its own. */
export function readsEveryConversation(role: Role): boolean {
  return role !== 'agent';
}

/**
 * SQL: who holds each open conversation now, as rows (conversation_id, agent_id, contact_id):
 * its agent and the agent of its pending offer.
 */
const HOLDERS = sql`SELECT h.id AS conversation_id, h.agent_id, h.contact_id FROM conversations h
                     WHERE h.state <> 'closed' AND h.agent_id IS NOT NULL
                    UNION
                    SELECT o.conversation_id, o.agent_id, h.contact_id FROM offers o
                      JOIN conversations h ON h.id = o.conversation_id
                     WHERE o.state = 'pending'`;

/**
 * SQL: the agents who may read the conversations whose ids `ids` lists, as rows
 * (conversation_id, agent_id): the agent the conversation is (or was last) assigned to, the
 * agent of its pending offer, and, for a closed one, the agents holding an open conversation
 * with the same contact (the customer's history is theirs to read while they talk to them;
 * a colleague's open conversation with the same customer is not).
 */
function agentReaders(ids: SQL): SQL {
  return sql`SELECT c.id AS conversation_id, c.agent_id FROM conversations c
              WHERE c.id IN (${ids}) AND c.agent_id IS NOT NULL
             UNION
             SELECT o.conversation_id, o.agent_id FROM offers o
              WHERE o.conversation_id IN (${ids}) AND o.state = 'pending'
             UNION
             SELECT c.id, held.agent_id FROM conversations c
               JOIN (${HOLDERS}) held ON held.contact_id = c.contact_id
              WHERE c.id IN (${ids}) AND c.state = 'closed'`;
}

/**
 * SQL: the ids of the conversations the agent `agentId` may read besides those assigned to
 * them (now or last): the one offered to them now, and the closed conversations of the
 * contacts they hold. Few, so that a query listing an agent's conversations (search) can walk the
 * agent's own by index and add these.
 */
export function readableBeyondOwn(agentId: string): SQL {
  return sql`SELECT o.conversation_id FROM offers o
              WHERE o.state = 'pending' AND o.agent_id = ${agentId}::uuid
             UNION
             SELECT b.id FROM conversations b
              WHERE b.state = 'closed' AND b.contact_id IN (SELECT held.contact_id FROM (${HOLDERS}) held
                                      WHERE held.agent_id = ${agentId}::uuid)`;
}

/**
 * SQL condition on a conversation aliased `alias`: the agent `agentId` may read it (the rule
 * of agentReaders, for queries that list conversations, such as search): theirs, or one of
 * readableBeyondOwn.
 */
export function readableByAgent(alias: SQL, agentId: string): SQL {
  return sql`(${alias}.agent_id = ${agentId}::uuid
              OR ${alias}.id IN (${readableBeyondOwn(agentId)}))`;
}

/** Whether the agent holds an open conversation (assigned, or offered now) with the contact. */
export async function agentHoldsContact(
  db: Executor,
  agentId: string,
  contactId: string,
): Promise<boolean> {
  const rows = await queryRows<{ one: number }>(
    db,
    sql`SELECT 1 AS one FROM (${HOLDERS}) held
         WHERE held.agent_id = ${agentId}::uuid AND held.contact_id = ${contactId}::uuid
         LIMIT 1`,
  );
  return rows.length > 0;
}

/** Whether the user may read the conversation now (absent conversations: no). */
export async function canReadConversation(
  db: Executor,
  user: { id: string; role: Role },
  conversationId: string,
): Promise<boolean> {
  if (readsEveryConversation(user.role)) return true;
  const rows = await queryRows<{ agent_id: string }>(
    db,
    sql`SELECT r.agent_id FROM (${agentReaders(sql`${conversationId}::uuid`)}) r
        WHERE r.agent_id = ${user.id}`,
  );
  return rows.length > 0;
}

/** For each conversation, the agents who may read it now (supervisors and admins aside). */
export type ConversationReaders = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * The agents who may read each of the conversations now, in one query for a whole batch
 * (canReadConversation asks one conversation for one user). A conversation no agent may
 * read is absent.
 */
export async function readersOf(
  db: Executor,
  conversationIds: readonly string[],
): Promise<ConversationReaders> {
  if (conversationIds.length === 0) return new Map();
  const ids = sql.join(
    conversationIds.map((id) => sql`${id}::uuid`),
    sql`, `,
  );
  const rows = await queryRows<{ conversation_id: string; agent_id: string }>(
    db,
    agentReaders(ids),
  );
  const readers = new Map<string, Set<string>>();
  for (const row of rows) {
    const agents = readers.get(row.conversation_id) ?? new Set<string>();
    agents.add(row.agent_id);
    readers.set(row.conversation_id, agents);
  }
  return readers;
}

/**
 * The preHandler of every route of one conversation (`:id`), run once its params are valid:
 * canReadConversation. Others' conversations are reported absent, not forbidden, so an
 * agent learns nothing of them.
 */
export function readableConversation(db: Db) {
  return async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    if (!(await canReadConversation(db, currentUser(request), id))) {
      throw new AppError('not_found', 'no such conversation');
    }
  };
}
