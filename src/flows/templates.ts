export interface TemplateValues {
  agentName?: string | null;
  queuePosition?: number | null;
  businessName?: string | null;
  /** A queue's overflow message: the queue's name and its maximum wait, in minutes. */
  queueName?: string | null;
  waitMinutes?: number | null;
}

/**
 * Fills `{agentName}`, `{queuePosition}`, `{businessName}`, `{queueName}` and `{waitMinutes}`
 * in an automated message. A placeholder without a value becomes empty rather than reaching
 * the customer as braces.
 */
export function renderTemplate(template: string, values: TemplateValues): string {
  return template
    .replace(
      /\{(agentName|queuePosition|businessName|queueName|waitMinutes)\}/g,
      (_, key: keyof TemplateValues) => {
        const value = values[key];
        return value === null || value === undefined ? '' : String(value);
      },
    )
    .replace(/ {2,}/g, ' ')
    .trim();
}
