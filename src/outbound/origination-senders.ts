/**
 * Which numbers a user may start conversations from, and which one is theirs by default.
 * The rule is the number's (admin/numbers.ts originationRolesOf: allowed at all, for which
 * roles, by kind unless set); the default is the admin-set default sender of the user's
 * queue, else the first number of their queues' flows, else the first number configured.
 */
import { asc, desc, eq, sql } from 'drizzle-orm';
import type { NumberKind } from '../addresses.js';
import { type NumberRow, originationRolesOf } from '../admin/numbers.js';
import {
  listOriginationTemplates,
  type OriginationTemplate,
} from '../admin/origination-templates.js';
import type { Role } from '../auth/users.js';
import { accounts, flows, numbers, queueMembers, queues } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import { AppError } from '../errors.js';
import type { OriginationStrategy } from '../events.js';

/** Who starts a conversation: an agent at the desk, an API client's user, an email's sender. */
export interface Originator {
  id: string;
  name: string;
  role: Role;
}

export interface SenderNumber {
  id: string;
  address: string;
  name: string;
  kind: NumberKind;
  /** The strategy an origination from it takes when it names none. */
  defaultStrategy: OriginationStrategy;
  /** The one an origination uses when it names no number. */
  default: boolean;
  /** Its account's: where a number typed in national format is read. */
  defaultCountry: string;
}

/** 403 naming the setting when the user's role may not originate from the number. */
export function assertMayOriginate(
  number: Pick<
    NumberRow,
    'address' | 'kind' | 'originationAllowed' | 'originationRoles' | 'archivedAt'
  >,
  role: Role,
): void {
  if (number.archivedAt) {
    throw new AppError(
      'forbidden',
      `number ${number.address} is archived: conversations cannot be started from it`,
      'numberId',
    );
  }
  if (!number.originationAllowed) {
    throw new AppError(
      'forbidden',
      `starting conversations from number ${number.address} is turned off (originationAllowed)`,
      'numberId',
    );
  }
  const roles = originationRolesOf(number);
  if (!roles.includes(role)) {
    throw new AppError(
      'forbidden',
      `a user with the role ${role} may not start conversations from number ${number.address}; its originationRoles are ${roles.join(', ') || 'none'}`,
      'numberId',
    );
  }
}

/**
 * The admin-set default sender of the user's queues (the queue of highest priority first)
 * that the user may originate from; undefined when none of their queues names one.
 */
export async function queueDefaultSender(
  db: Executor,
  user: Pick<Originator, 'id' | 'role'>,
): Promise<NumberRow | undefined> {
  const rows = await db
    .select({ number: numbers })
    .from(queueMembers)
    .innerJoin(queues, eq(queues.id, queueMembers.queueId))
    .innerJoin(numbers, eq(numbers.id, queues.defaultSenderNumberId))
    .where(eq(queueMembers.userId, user.id))
    .orderBy(desc(queues.priority), asc(queues.name), asc(queues.id));
  return rows.map((row) => row.number).find((n) => originationRolesOf(n).includes(user.role));
}

/**
 * The numbers a user may originate from, for the composer's picker: their queue's default
 * sender first, then the numbers whose flow routes to a queue they are in, then the others,
 * each group oldest first. The first is the default.
 */
export async function listSenderNumbers(
  db: Executor,
  user: Pick<Originator, 'id' | 'role'>,
): Promise<SenderNumber[]> {
  const ofMyQueue = sql`EXISTS (SELECT 1 FROM ${flows}
    JOIN ${queueMembers} ON ${queueMembers.queueId} = ${flows.queueId}
    WHERE ${flows.id} = ${numbers.flowId} AND ${queueMembers.userId} = ${user.id})`;
  const [all, preferred] = await Promise.all([
    db
      .select({ number: numbers, defaultCountry: accounts.defaultCountry })
      .from(numbers)
      .innerJoin(accounts, eq(accounts.id, numbers.accountId))
      .orderBy(desc(ofMyQueue), asc(numbers.createdAt), asc(numbers.id)),
    queueDefaultSender(db, user),
  ]);
  const countries = new Map(all.map((row) => [row.number.id, row.defaultCountry]));
  const allowed = all
    .map((row) => row.number)
    .filter((n) => originationRolesOf(n).includes(user.role));
  const ordered = preferred
    ? [preferred, ...allowed.filter((n) => n.id !== preferred.id)]
    : allowed;
  return ordered.map((n, index) => ({
    id: n.id,
    address: n.address,
    name: n.name,
    kind: n.kind,
    defaultStrategy: n.defaultStrategy,
    default: index === 0,
    defaultCountry: countries.get(n.id) ?? 'US',
  }));
}

/** The number an origination naming none is sent from: the first of listSenderNumbers. */
export async function defaultSenderNumber(
  db: Executor,
  user: Pick<Originator, 'id' | 'role'>,
): Promise<string | undefined> {
  return (await listSenderNumbers(db, user))[0]?.id;
}

/** The task templates the user may send: those whose number their role may originate from. */
export async function originationTemplatesFor(
  db: Executor,
  user: Pick<Originator, 'id' | 'role'>,
): Promise<OriginationTemplate[]> {
  const [templates, senders] = await Promise.all([
    listOriginationTemplates(db),
    listSenderNumbers(db, user),
  ]);
  const mine = new Set(senders.map((n) => n.id));
  return templates.filter((t) => mine.has(t.numberId));
}
