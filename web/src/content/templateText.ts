/**
 * The text of content templates and quick replies: their `{{placeholders}}`, and the text the
 * customer reads once they are filled.
 */

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;

/**
 * A template's placeholders in the order the customer reads them, then any the template
 * defines a sample for but its body does not show.
 */
export function placeholdersOf(body: string, samples: Record<string, string> = {}): string[] {
  const names = [...body.matchAll(PLACEHOLDER)].map((match) => match[1] ?? '');
  return [...new Set([...names, ...Object.keys(samples)])];
}

/** The body with each placeholder that has a value replaced by it; the others stay as written. */
export function fillPlaceholders(body: string, values: Record<string, string>): string {
  return body.replace(PLACEHOLDER, (written, name: string) => {
    const value = values[name];
    return value === undefined || value === '' ? written : value;
  });
}

/**
 * A quick reply as inserted by an agent: `{{customerName}}` becomes the customer's contact
 * name, `{{agentName}}` the agent's own name. Without a contact name the placeholder goes
 * with the space before it ("Hi {{customerName}}, …" reads "Hi, …").
 */
export function fillQuickReply(
  body: string,
  names: { customerName: string | null; agentName: string },
): string {
  const customer = names.customerName?.trim();
  return body
    .replace(/( ?)\{\{\s*customerName\s*\}\}/g, (_, space: string) =>
      customer ? `${space}${customer}` : '',
    )
    .replace(/\{\{\s*agentName\s*\}\}/g, names.agentName);
}
