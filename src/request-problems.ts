/**
 * A refused request body, query or parameters in sentences a person can act on: every
 * problem at once (a form marks each field), each naming its field in words ("Bot retries
 * must be at most 10.", "Hours, row 1: an interval must open before it closes."), never
 * zod's own wording ("Too big: expected number to be <=10").
 */

/** One problem of a refused request: the field's API path ("hours.0.opensAt") and a sentence. */
export interface RequestProblem {
  field: string | undefined;
  message: string;
}

/** What fastify-type-provider-zod reports per zod issue. */
interface ValidationEntry {
  keyword?: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** zod's default messages start so; a schema's own messages are kept as written. */
const ZOD_WORDING = /^(Invalid|Too big|Too small|Unrecognized key|Expected)/;

export function requestProblems(
  validation: readonly ValidationEntry[],
  context: string | undefined,
): RequestProblem[] {
  const problems: RequestProblem[] = [];
  const seen = new Set<string>();
  for (const entry of validation) {
    const path = entry.instancePath.replace(/^\//, '').split('/').filter(Boolean);
    const field = path.length > 0 ? path.join('.') : undefined;
    // One problem per field: the first says what to fix there.
    if (seen.has(field ?? '')) continue;
    seen.add(field ?? '');
    problems.push({ field, message: sentenceOf(path, entry, context) });
  }
  return problems;
}

function sentenceOf(path: string[], entry: ValidationEntry, context: string | undefined): string {
  const label = labelOf(path, context);
  const params = entry.params ?? {};
  const message = entry.message ?? '';
  if (message && !ZOD_WORDING.test(message)) return ownSentence(path, label, message);
  switch (entry.keyword) {
    case 'too_big':
    case 'too_small': {
      const limit = Number(params[entry.keyword === 'too_big' ? 'maximum' : 'minimum']);
      const most = entry.keyword === 'too_big' ? 'at most' : 'at least';
      switch (params.origin) {
        case 'string':
          return entry.keyword === 'too_small' && limit === 1
            ? `${label} must not be empty.`
            : `${label} must have ${most} ${limit} characters.`;
        case 'array':
        case 'set':
          return `${label} must have ${most} ${limit} ${limit === 1 ? 'entry' : 'entries'}.`;
        default:
          return `${label} must be ${most} ${limit}.`;
      }
    }
    case 'invalid_type':
      return message.includes('received undefined')
        ? `${label} is required.`
        : `${label} must be ${article(String(params.expected ?? 'value'))}.`;
    case 'invalid_value': {
      const values = Array.isArray(params.values) ? params.values.map(String) : [];
      return values.length > 0
        ? `${label} must be one of ${values.join(', ')}.`
        : `${label} has a value that is not allowed.`;
    }
    case 'invalid_format':
      return `${label} must be ${article(FORMATS[String(params.format)] ?? String(params.format ?? 'value'))}.`;
    case 'unrecognized_keys': {
      const keys = Array.isArray(params.keys) ? params.keys.map(String) : [];
      const where = path.length > 0 ? ` in ${label.toLowerCase()}` : '';
      return keys.length === 1
        ? `${keys[0]} is not a field this request takes${where}.`
        : `${keys.join(', ')} are not fields this request takes${where}.`;
    }
    default:
      return `${label} is not valid.`;
  }
}

const FORMATS: Record<string, string> = {
  email: 'email address',
  url: 'URL',
  uuid: 'id',
  datetime: 'date and time (ISO 8601)',
  date: 'date (YYYY-MM-DD)',
  regex: 'value in the expected format',
};

/**
 * A schema's own message, as a sentence naming the field: "name must not be empty" on
 * `name` reads "Name must not be empty."; one that does not start with its field is
 * prefixed with it ("Hours, row 1: an interval must open before it closes.").
 */
function ownSentence(path: string[], label: string, message: string): string {
  const key = path.at(-1);
  const text = message.endsWith('.') ? message : `${message}.`;
  if (key && text.startsWith(`${key} `)) {
    return `${label}${text.slice(key.length)}`;
  }
  return path.length > 0 ? `${label}: ${text}` : capitalise(text);
}

/** A path in words: ["hours", "0", "opensAt"] → "Hours, row 1, opens at". */
function labelOf(path: string[], context: string | undefined): string {
  if (path.length === 0) return capitalise(context === 'querystring' ? 'the query' : 'the request');
  return capitalise(
    path.map((part) => (/^\d+$/.test(part) ? `row ${Number(part) + 1}` : words(part))).join(', '),
  );
}

/** A key in words; a unit at its end as the form writes it: "Bot timeout (ms)". */
function words(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase()
    .replace(/\b(id|url|sid)\b/g, (word) => word.toUpperCase())
    .replace(/ (ms|seconds|minutes|hours|days|bytes)$/, ' ($1)');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function article(noun: string): string {
  return /^[aeiou]/i.test(noun) && !/^(uuid|url)/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}
