/**
 * The new text of an email, as an agent means it for the customer: what they wrote above the
 * quoted message, the signature and their mail app's footer. Mail clients mark these in a
 * handful of ways; a line that starts one ends the text, and `>` quoted lines are dropped
 * wherever they are (an inline answer keeps the agent's lines only).
 */

/** A line that starts what follows the new text: everything from it on is dropped. */
const ENDS_TEXT: RegExp[] = [
  // The signature delimiter ("-- "), and mail apps that drop its trailing space.
  /^--\s*$/,
  // "On Tue, 1 Dec 2026 at 09:40, Ada <ada@example.com> wrote:" (also split over two lines).
  /^On\b.*\bwrote:\s*$/,
  // Outlook and others: "-----Original Message-----", "_____" separators.
  /^-{2,}\s*(Original Message|Forwarded message)\s*-{2,}\s*$/i,
  /^_{5,}\s*$/,
  // Mobile footers: "Sent from my iPhone", "Sent from Outlook for Android", "Get Outlook for iOS".
  /^Sent from (my |Outlook|Mail for|Yahoo Mail|Gmail)/i,
  /^Get Outlook for /i,
];

/** Outlook's header block of the quoted message: "From: …" followed by "Sent:" or "Date:". */
const QUOTED_HEADER_FROM = /^\*?From:\*?\s/i;
const QUOTED_HEADER_NEXT = /^\*?(Sent|Date|To|Subject):\*?\s/i;

export function replyText(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const kept: string[] = [];
  for (const [index, line] of lines.entries()) {
    const trimmed = line.trim();
    const next = lines[index + 1]?.trim() ?? '';
    if (ENDS_TEXT.some((pattern) => pattern.test(trimmed))) break;
    if (/^On\b/.test(trimmed) && /\bwrote:\s*$/.test(next)) break;
    if (QUOTED_HEADER_FROM.test(trimmed) && QUOTED_HEADER_NEXT.test(next)) break;
    if (trimmed.startsWith('>')) continue;
    kept.push(line.trimEnd());
  }
  return kept
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
