import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { DatePicker } from '@twilio-paste/core/date-picker';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { TimePicker } from '@twilio-paste/core/time-picker';
import { DeleteIcon } from '@twilio-paste/icons/esm/DeleteIcon';
import { PlusIcon } from '@twilio-paste/icons/esm/PlusIcon';
import { type ChangeEvent, type ReactNode, useEffect, useRef } from 'react';

/** Rows carry a key of their own so that removing one keeps the others' inputs in place. */
export interface Keyed {
  key: string;
}

export function newKey(): string {
  return crypto.randomUUID();
}

/** The row an error path such as "2.opensAt" points at, for lists sent in draft order. */
export function rowAtIndex<R extends Keyed>(rows: R[], errorAt: string | undefined): R | undefined {
  const index = Number(errorAt?.split('.')[0]);
  return Number.isInteger(index) ? rows[index] : undefined;
}

/**
 * A fieldset of rows the admin adds and removes: skills with levels, opening hours, holidays.
 * `renderRow` draws the inputs of one row; each row gets its own Remove button.
 */
export function EditableList<R extends Keyed>({
  id,
  legend,
  rows,
  onChange,
  newRow,
  renderRow,
  rowName,
  addLabel,
  empty,
  help,
  error,
  errorRow,
}: {
  id: string;
  legend: string;
  rows: R[];
  onChange: (rows: R[]) => void;
  newRow: () => R;
  renderRow: (
    row: R,
    update: (patch: Partial<R>) => void,
    index: number,
    hasError: boolean,
  ) => ReactNode;
  /** "Monday hours 2": what Remove removes, for screen readers. */
  rowName: (row: R, index: number) => string;
  addLabel: string;
  empty?: string;
  help?: ReactNode;
  error?: string | undefined;
  /** The key of the row the error is about: it is shown under that row. */
  errorRow?: string | undefined;
}) {
  const rowError = rows.some((row) => row.key === errorRow) ? error : undefined;
  const update = (key: string, patch: Partial<R>) =>
    onChange(rows.map((row) => (row.key === key ? { ...row, ...patch } : row)));

  // The keyboard follows the change: into a row just added, to Add after a removal (the
  // Remove button it was on is gone).
  const box = useRef<HTMLFieldSetElement>(null);
  const addButton = useRef<HTMLButtonElement>(null);
  const added = useRef(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when a row was added
  useEffect(() => {
    if (!added.current) return;
    added.current = false;
    const rowBoxes = box.current?.querySelectorAll('[data-row]');
    rowBoxes?.[rowBoxes.length - 1]?.querySelector('input')?.focus();
  }, [rows.length]);
  const add = () => {
    added.current = true;
    onChange([...rows, newRow()]);
  };
  const remove = (key: string) => {
    onChange(rows.filter((row) => row.key !== key));
    addButton.current?.focus();
  };

  return (
    <Box
      as="fieldset"
      ref={box}
      id={id}
      margin="space0"
      padding="space0"
      borderStyle="none"
      minWidth="0"
    >
      <Label as="legend">{legend}</Label>
      <Box display="flex" flexDirection="column" rowGap="space40">
        {rows.length === 0 && empty && (
          <HelpText marginTop="space0" variant="default">
            {empty}
          </HelpText>
        )}
        {rows.map((row, index) => (
          <Box key={row.key} data-row>
            <Box display="flex" alignItems="flex-end" columnGap="space40" flexWrap="wrap">
              {renderRow(row, (patch) => update(row.key, patch), index, row.key === errorRow)}
              <Button variant="secondary_icon" size="icon_small" onClick={() => remove(row.key)}>
                <DeleteIcon decorative={false} title={`Remove ${rowName(row, index)}`} />
              </Button>
            </Box>
            {row.key === errorRow && <HelpText variant="error">{rowError}</HelpText>}
          </Box>
        ))}
        <Box>
          <Button ref={addButton} variant="secondary" size="small" onClick={add}>
            <PlusIcon decorative />
            {addLabel}
            <ScreenReaderOnly> to {legend}</ScreenReaderOnly>
          </Button>
        </Box>
      </Box>
      {/* An error about the list as a whole, or about a row it cannot place. */}
      {!rowError && (error ?? help) && (
        <HelpText variant={error ? 'error' : 'default'}>{error ?? help}</HelpText>
      )}
    </Box>
  );
}

/**
 * One input of a row, with its visible label ("Opens") and, for screen readers, which row it
 * is in ("Monday 2"): every row's labels read the same on screen.
 */
export function RowInput({
  id,
  label,
  spoken,
  type = 'text',
  value,
  onChange,
  grow = false,
  placeholder,
  min,
  max,
  maxLength,
  hasError = false,
}: {
  id: string;
  label: string;
  spoken: string;
  type?: 'text' | 'number' | 'time' | 'date';
  value: string;
  onChange: (value: string) => void;
  /** Take the row's free width (a name), rather than a fixed one (a level, a time). */
  grow?: boolean;
  placeholder?: string;
  min?: number;
  max?: number;
  maxLength?: number;
  hasError?: boolean;
}) {
  const props = {
    id,
    value,
    placeholder,
    hasError,
    onChange: (event: ChangeEvent<HTMLInputElement>) => onChange(event.target.value),
  };
  return (
    <Box flexGrow={grow ? 1 : 0} minWidth={grow ? 'size20' : 'size10'}>
      <Label htmlFor={id}>
        {label}
        <ScreenReaderOnly> ({spoken})</ScreenReaderOnly>
      </Label>
      {type === 'time' && <TimePicker {...props} />}
      {type === 'date' && <DatePicker {...props} />}
      {(type === 'text' || type === 'number') && (
        <Input {...props} type={type} min={min} max={max} maxLength={maxLength} />
      )}
    </Box>
  );
}
