import { Box } from '@twilio-paste/core/box';
import { AUTOMATED_MESSAGES, type AutomatedMessage } from '../../../src/events';
import { EditableList, type Keyed, newKey, RowInput } from './EditableList';
import type { Bound } from './useDraft';
import { MESSAGE_LABELS } from './WindowTemplatesField';

/** One language's automated messages, by kind; an empty one falls back to the main text. */
export interface VariantRow extends Keyed {
  language: string;
  messages: Partial<Record<AutomatedMessage, string>>;
}

type Variants = Record<string, Partial<Record<AutomatedMessage, string>>>;

export function variantRows(variants: Variants): VariantRow[] {
  return Object.entries(variants).map(([language, messages]) => ({
    key: newKey(),
    language,
    messages,
  }));
}

/** The rows as the API takes them: by language, without empty messages or unnamed rows. */
export function variantsOf(rows: VariantRow[]): Variants {
  return Object.fromEntries(
    rows
      .filter((row) => row.language.trim())
      .map((row) => [
        row.language.trim(),
        Object.fromEntries(Object.entries(row.messages).filter(([, text]) => text?.trim())),
      ]),
  );
}

/**
 * The flow's messages in other languages: a row per language, a text per message the flow
 * sends (`shown`). A customer whose contact has that `language` gets these.
 */
export function MessageVariantsField({
  id,
  value,
  onChange,
  error,
  errorAt,
  shown,
}: Bound<VariantRow[]> & { shown: AutomatedMessage[] }) {
  // The server names the row by its language: "es.initial".
  const errorRow = value.find((row) => row.language.trim() === errorAt?.split('.')[0]);
  return (
    <EditableList<VariantRow>
      id={id}
      legend="Messages in other languages"
      rows={value}
      onChange={onChange}
      newRow={() => ({ key: newKey(), language: '', messages: {} })}
      rowName={(row, index) => `language ${row.language || index + 1}`}
      addLabel="Add a language"
      empty="No other language: every customer gets the messages above."
      help="A customer whose contact has the attribute language (es, fr-CA, …) gets that language's messages; a message left empty falls back to the one above."
      error={error}
      errorRow={errorRow?.key}
      renderRow={(row, update, index, hasError) => {
        const spoken = `language ${row.language || index + 1}`;
        // A text kept for a message the flow no longer sends stays shown, to be cleared.
        const kinds = AUTOMATED_MESSAGES.filter(
          (kind) => kind !== 'overflow' && (shown.includes(kind) || row.messages[kind]),
        );
        return (
          <Box display="flex" flexDirection="column" rowGap="space30" flexGrow={1}>
            <RowInput
              id={`${row.key}-language`}
              label="Language"
              spoken={spoken}
              placeholder="es"
              value={row.language}
              hasError={hasError}
              onChange={(language) => update({ language })}
            />
            {kinds.map((kind) => (
              <RowInput
                key={kind}
                id={`${row.key}-${kind}`}
                label={MESSAGE_LABELS[kind]}
                spoken={spoken}
                grow
                maxLength={1600}
                value={row.messages[kind] ?? ''}
                onChange={(text) => update({ messages: { ...row.messages, [kind]: text } })}
              />
            ))}
          </Box>
        );
      }}
    />
  );
}
