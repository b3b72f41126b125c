/**
 * Lists and rows sent as one JSON parameter (far cheaper to build and send than a parameter
 * per value, and one statement text whatever their number, so it is prepared once), in
 * forms the planner sizes well. It takes jsonb_to_recordset and jsonb_array_elements for
 * 100 rows, and against that many lookups a table of a few thousand rows is cheaper to
 * read whole: each batch of a handful of texts read every contact, or every open
 * conversation. An array built from the JSON counts as ten, so the same statements look
 * their rows up by index.
 */
import { type SQL, sql } from 'drizzle-orm';

/** A JSON array parameter as a PostgreSQL text[]: `col = ANY(${textArray(values)})`. */
export function textArray(values: Iterable<string>): SQL {
  return sql`ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify([...values])}::jsonb))`;
}

/** A JSON array parameter as a PostgreSQL uuid[]. */
export function uuidArray(ids: Iterable<string>): SQL {
  return sql`${textArray(ids)}::uuid[]`;
}

/**
 * Objects as a table, for `FROM ${jsonRecords(rows, 'id uuid, at timestamptz')} AS k`:
 * `columns` names each column's key and type, as jsonb_to_record takes them (a constant
 * of the caller's, never input).
 */
export function jsonRecords(rows: readonly object[], columns: string): SQL {
  return sql`(SELECT r.* FROM unnest(ARRAY(SELECT jsonb_array_elements(${JSON.stringify(rows)}::jsonb))) AS e(item),
                  jsonb_to_record(e.item) AS r(${sql.raw(columns)}))`;
}
