/**
 * Form controls hold text; the API wants numbers, nulls and lists. These turn one into the
 * other, with the empty field meaning "not set" (null) wherever the API allows it.
 */

/** '' → null, else the number as typed (the server says when it is not a whole one). */
export function numberOrNull(text: string): number | null {
  return text.trim() === '' ? null : Number(text);
}

/** '' → undefined, so that the server keeps its default. */
export function numberOrDefault(text: string): number | undefined {
  return text.trim() === '' ? undefined : Number(text);
}

export function numberText(value: number | null | undefined): string {
  return value === null || value === undefined ? '' : String(value);
}

/** '' (or blanks) → null: an automated message left empty is not sent. */
export function textOrNull(text: string): string | null {
  return text.trim() === '' ? null : text;
}

/** '' → undefined: an optional field the API does not want empty. */
export function textOrUndefined(text: string): string | undefined {
  return text.trim() === '' ? undefined : text.trim();
}

/** "en, fr" → ['en', 'fr'] */
export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** A select's "none" option: its value is '', the API's is null. */
export const NONE = '';

/** id → name, for showing references (a number's flow, a queue's overflow) by name. */
export function namesById(rows: { id: string; name: string }[] | null): Map<string, string> {
  return new Map((rows ?? []).map((row) => [row.id, row.name]));
}

/** { billing: 5, french: 3 } → "billing 5, french 3", for a table cell. */
export function skillsText(skills: Record<string, number>): string {
  const entries = Object.entries(skills);
  return entries.length ? entries.map(([name, level]) => `${name} ${level}`).join(', ') : '—';
}
