/**
 * Reading the audit trail: entries matching filters, newest first, a page at a time behind an
 * opaque cursor (when written and id, as search's), and every match as CSV or JSON Lines,
 * read a batch at a time so that an export of years holds one batch in memory.
 */
import { and, desc, eq, gte, ilike, like, lt, or, type SQL, sql } from 'drizzle-orm';
import { csvCell } from '../csv.js';
import { auditEntries } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import { AppError } from '../errors.js';
import type { AuditEntry } from './audit-log.js';

export interface AuditFilter {
  /** Entries written at or after this instant… */
  from?: Date | undefined;
  /** …and before this one. */
  to?: Date | undefined;
  /** A user's id, or text found in the actor's label (an email, `system`, `cli`), any case. */
  actor?: string | undefined;
  /** An action (`queue.updated`), or the start of some ending with a dot (`queue.`). */
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Gives the next page; null on the last. */
  nextCursor: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z) (\d{1,18})$/;
/** `at` to the microsecond, as the cursor carries it (a Date would round to milliseconds). */
const cursorAt = sql<string>`to_char(${auditEntries.at} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The entries matching every given filter, newest first. */
export async function listAuditEntries(
  db: Executor,
  filter: AuditFilter,
  page: { cursor?: string | undefined; limit: number },
): Promise<AuditPage> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const rows = await db
    .select({ entry: auditEntries, cursorAt })
    .from(auditEntries)
    .where(
      and(
        ...conditionsOf(filter),
        after &&
          sql`(${auditEntries.at}, ${auditEntries.id}) < (${after.at}::timestamptz, ${after.id}::bigint)`,
      ),
    )
    .orderBy(desc(auditEntries.at), desc(auditEntries.id))
    .limit(page.limit + 1);
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
  return {
    entries: rows.slice(0, page.limit).map((row) => row.entry),
    nextCursor: last
      ? Buffer.from(`${last.cursorAt} ${last.entry.id}`).toString('base64url')
      : null,
  };
}

/** Every matching entry, newest first, read EXPORT_BATCH at a time. */
export async function* allAuditEntries(
  db: Executor,
  filter: AuditFilter,
): AsyncGenerator<AuditEntry> {
  let cursor: string | undefined;
  do {
    const page = await listAuditEntries(db, filter, { cursor, limit: EXPORT_BATCH });
    yield* page.entries;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}
const EXPORT_BATCH = 500;

export type AuditExportFormat = 'csv' | 'jsonl';

/** The export of the matching entries as lines of text: CSV with a header row, or JSON Lines. */
export async function* exportAuditEntries(
  db: Executor,
  filter: AuditFilter,
  format: AuditExportFormat,
): AsyncGenerator<string> {
  if (format === 'csv') yield csvLine(CSV_COLUMNS);
  for await (const entry of allAuditEntries(db, filter)) {
    const json = auditEntryJson(entry);
    yield format === 'csv'
      ? csvLine(CSV_COLUMNS.map((column) => textOf(json[column])))
      : `${JSON.stringify(json)}\n`;
  }
}

/** An entry as the API and the exports give it: `at` as an ISO instant. */
export function auditEntryJson(entry: AuditEntry) {
  return { ...entry, at: entry.at.toISOString() };
}

const CSV_COLUMNS = [
  'id',
  'at',
  'actor',
  'actorId',
  'action',
  'targetType',
  'targetId',
  'ip',
  'userAgent',
  'requestId',
  'before',
  'after',
  'detail',
] as const;

function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** A cell's text: objects (before, after, detail) as JSON, nothing as an empty cell. */
function textOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function conditionsOf(filter: AuditFilter): (SQL | undefined)[] {
  const actor = filter.actor?.trim();
  const action = filter.action?.trim();
  return [
    filter.from && gte(auditEntries.at, filter.from),
    filter.to && lt(auditEntries.at, filter.to),
    actor === undefined || actor === ''
      ? undefined
      : UUID.test(actor)
        ? or(eq(auditEntries.actorId, actor), ilike(auditEntries.actor, `%${likeText(actor)}%`))
        : ilike(auditEntries.actor, `%${likeText(actor)}%`),
    action === undefined || action === ''
      ? undefined
      : action.endsWith('.')
        ? like(auditEntries.action, `${likeText(action)}%`)
        : eq(auditEntries.action, action),
    filter.targetType ? eq(auditEntries.targetType, filter.targetType) : undefined,
    filter.targetId ? eq(auditEntries.targetId, filter.targetId) : undefined,
  ];
}

/** The text matched as it is by LIKE: its wildcards and escape character escaped. */
function likeText(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function decodeCursor(cursor: string): { at: string; id: string } {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString());
  // The pattern lets through impossible dates (month 13), which the database would refuse.
  if (!match || Number.isNaN(Date.parse(match[1]!)) || !sameDay(match[1]!)) {
    throw new AppError('bad_request', 'cursor is not one the audit trail gave', 'cursor');
  }
  return { at: match[1]!, id: match[2]! };
}

/** Whether an ISO instant names a real day and time (not 2026-02-31). */
function sameDay(iso: string): boolean {
  return new Date(Date.parse(iso)).toISOString().slice(0, 19) === iso.slice(0, 19);
}
