import type { ReactNode } from 'react';
import { EditableList, type Keyed, newKey, RowInput, rowAtIndex } from './EditableList';
import type { Disposition } from './types';
import type { Bound } from './useDraft';

export interface DispositionRow extends Keyed, Disposition {}

export function dispositionRows(dispositions: Disposition[]): DispositionRow[] {
  return dispositions.map((disposition) => ({ ...disposition, key: newKey() }));
}

/** Every row, in order, so that the server's "dispositions.2.code" points at the row shown. */
export function dispositionsOf(rows: DispositionRow[]): Disposition[] {
  return rows.map(({ code, label }) => ({ code, label }));
}

/** A queue's wrap-up codes: the code reports count, the label agents pick by. */
export function DispositionsField({
  id,
  value,
  onChange,
  error,
  errorAt,
  label,
  help,
}: Bound<DispositionRow[]> & { label: string; help?: ReactNode }) {
  return (
    <EditableList
      id={id}
      legend={label}
      rows={value}
      onChange={onChange}
      newRow={() => ({ key: newKey(), code: '', label: '' })}
      rowName={(row, index) => `disposition ${row.code || index + 1}`}
      addLabel="Add disposition"
      empty="None: agents end conversations of this queue without one."
      help={help}
      error={error}
      // The API names a row by its place: "dispositions.1.code".
      errorRow={rowAtIndex(value, errorAt)?.key}
      renderRow={(row, update, index, hasError) => (
        <>
          <RowInput
            id={`${row.key}-code`}
            label="Code"
            spoken={`disposition ${index + 1}`}
            placeholder="refund"
            maxLength={40}
            value={row.code}
            hasError={hasError && errorAt?.endsWith('.code') === true}
            onChange={(code) => update({ code })}
          />
          <RowInput
            id={`${row.key}-label`}
            label="Label"
            spoken={`disposition ${index + 1}`}
            grow
            placeholder="Refund issued"
            maxLength={80}
            value={row.label}
            hasError={hasError && errorAt?.endsWith('.label') === true}
            onChange={(label) => update({ label })}
          />
        </>
      )}
    />
  );
}
