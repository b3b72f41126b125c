/**
 * One CSV cell: RFC 4180 quoting, and a leading quote on text a spreadsheet would run as a
 * formula (names, emails and settings are anybody's text). A number, even negative, is left
 * as it is.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) && Number.isNaN(Number(value)) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
