import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { HelpText } from '@twilio-paste/core/help-text';
import type { ReactNode } from 'react';
import { EditableList, type Keyed, newKey, RowInput, rowAtIndex } from './EditableList';
import { FieldGrid } from './fields';
import type { Holiday, OpeningInterval } from './types';
import type { Bound } from './useDraft';

export interface IntervalRow extends Keyed, OpeningInterval {}
export interface HolidayRow extends Keyed, Holiday {}

/** Monday first, as people read a week; the API numbers Sunday 0. */
const WEEK = [
  { weekday: 1, name: 'Monday' },
  { weekday: 2, name: 'Tuesday' },
  { weekday: 3, name: 'Wednesday' },
  { weekday: 4, name: 'Thursday' },
  { weekday: 5, name: 'Friday' },
  { weekday: 6, name: 'Saturday' },
  { weekday: 0, name: 'Sunday' },
];

export const withKeys = <T extends object>(rows: T[]): (T & Keyed)[] =>
  rows.map((row) => ({ ...row, key: newKey() }));

export const withoutKeys = <T extends Keyed>(rows: T[]): Omit<T, 'key'>[] =>
  rows.map(({ key: _, ...row }) => row);

/** The weekly schedule: any number of opening intervals per weekday. */
export function HoursField({ id, value, onChange, error, errorAt }: Bound<IntervalRow[]>) {
  const errorRow = rowAtIndex(value, errorAt);
  const ofDay = (weekday: number) => value.filter((row) => row.weekday === weekday);
  const replaceDay = (weekday: number, rows: IntervalRow[]) =>
    onChange([...value.filter((row) => row.weekday !== weekday), ...rows]);
  const copyMondayToWeekdays = () =>
    onChange([
      ...value.filter((row) => row.weekday === 0 || row.weekday === 1 || row.weekday === 6),
      ...[2, 3, 4, 5].flatMap((weekday) =>
        ofDay(1).map((row) => ({ ...row, weekday, key: newKey() })),
      ),
    ]);

  return (
    <Box id={id} display="flex" flexDirection="column" rowGap="space60">
      <HelpText marginTop="space0">
        In the flow's time zone. A day without hours is closed; a flow with no hours at all is
        always open.
      </HelpText>
      <Box>
        <Button variant="secondary" size="small" onClick={copyMondayToWeekdays}>
          Copy Monday to Tuesday–Friday
        </Button>
      </Box>
      <FieldGrid>
        {WEEK.map(({ weekday, name }) => (
          <EditableList
            key={weekday}
            id={`${id}-${weekday}`}
            legend={name}
            rows={ofDay(weekday)}
            onChange={(rows) => replaceDay(weekday, rows)}
            newRow={() => ({ key: newKey(), weekday, opensAt: '09:00', closesAt: '17:00' })}
            rowName={(_, index) => `${name} hours ${index + 1}`}
            addLabel="Add hours"
            empty="Closed."
            error={errorRow?.weekday === weekday ? error : undefined}
            errorRow={errorRow?.key}
            renderRow={(row, update, index, hasError) => (
              <>
                <RowInput
                  id={`${row.key}-opens`}
                  label="Opens"
                  spoken={`${name} ${index + 1}`}
                  type="time"
                  value={row.opensAt}
                  hasError={hasError}
                  onChange={(opensAt) => update({ opensAt })}
                />
                <RowInput
                  id={`${row.key}-closes`}
                  label="Closes"
                  spoken={`${name} ${index + 1}`}
                  type="time"
                  value={row.closesAt}
                  hasError={hasError}
                  onChange={(closesAt) => update({ closesAt })}
                />
              </>
            )}
          />
        ))}
      </FieldGrid>
      {error && !errorRow && <HelpText variant="error">{error}</HelpText>}
    </Box>
  );
}

/** Days the flow is closed all day, with a name for the admin's benefit. */
export function HolidaysField({
  id,
  value,
  onChange,
  error,
  errorAt,
  help,
}: Bound<HolidayRow[]> & { help?: ReactNode }) {
  return (
    <EditableList
      id={id}
      legend="Holidays"
      rows={value}
      onChange={onChange}
      newRow={() => ({ key: newKey(), day: '', name: '' })}
      rowName={(row, index) => `holiday ${row.name || row.day || index + 1}`}
      addLabel="Add holiday"
      empty="No holidays."
      help={help}
      error={error}
      errorRow={rowAtIndex(value, errorAt)?.key}
      renderRow={(row, update, index, hasError) => (
        <>
          <RowInput
            id={`${row.key}-day`}
            label="Date"
            spoken={`holiday ${index + 1}`}
            type="date"
            value={row.day}
            hasError={hasError}
            onChange={(day) => update({ day })}
          />
          <RowInput
            id={`${row.key}-name`}
            label="Name"
            spoken={`holiday ${index + 1}`}
            grow
            maxLength={100}
            placeholder="New Year's Day"
            value={row.name}
            onChange={(name) => update({ name })}
          />
        </>
      )}
    />
  );
}
