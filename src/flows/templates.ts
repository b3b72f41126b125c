export interface TemplateValues {
  agentName?: string | null;
  queuePosition?: number | null;
  businessName?: string | null;
}

/**
 * Fills `{agentName}`, `{queuePosition}` and `{businessName}` in an automated message. A
 * placeholder without a value becomes empty rather than reaching the customer as braces.
 */
export function renderTemplate(template: string, values: TemplateValues): string {
  return template
    .replace(/\{(agentName|queuePosition|businessName)\}/g, (_, key: keyof TemplateValues) => {
      const value = values[key];
      return value === null || value === undefined ? '' : String(value);
    })
    .replace(/ {2,}/g, ' ')
    .trim();
}
