import type { ReactNode } from 'react';
import { EditableList, type Keyed, newKey, RowInput } from './EditableList';
import type { Skills } from './types';
import type { Bound } from './useDraft';

export interface SkillRow extends Keyed {
  name: string;
  level: string;
}

export function skillRows(skills: Skills): SkillRow[] {
  return Object.entries(skills).map(([name, level]) => ({
    key: newKey(),
    name,
    level: String(level),
  }));
}

/** Rows without a name are dropped; the server checks the levels (0 to 10). */
export function skillsOf(rows: SkillRow[]): Skills {
  return Object.fromEntries(
    rows.filter((row) => row.name.trim()).map((row) => [row.name.trim(), Number(row.level)]),
  );
}

/** Skills with a level 0–10: an agent's, or the minimum a queue requires. */
export function SkillsField({
  id,
  value,
  onChange,
  error,
  errorAt,
  label,
  help,
}: Bound<SkillRow[]> & { label: string; help?: ReactNode }) {
  // The API names a skill by its name: "skills.billing".
  const errorRow = value.find((row) => errorAt !== undefined && row.name.trim() === errorAt);
  return (
    <EditableList
      id={id}
      legend={label}
      rows={value}
      onChange={onChange}
      newRow={() => ({ key: newKey(), name: '', level: '5' })}
      rowName={(row, index) => `skill ${row.name || index + 1}`}
      addLabel="Add skill"
      empty="None."
      help={help}
      error={error}
      errorRow={errorRow?.key}
      renderRow={(row, update, index, hasError) => (
        <>
          <RowInput
            id={`${row.key}-name`}
            label="Skill"
            spoken={String(index + 1)}
            grow
            placeholder="billing"
            value={row.name}
            onChange={(name) => update({ name })}
          />
          <RowInput
            id={`${row.key}-level`}
            label="Level"
            spoken={`skill ${index + 1}`}
            type="number"
            min={0}
            max={10}
            value={row.level}
            hasError={hasError}
            onChange={(level) => update({ level })}
          />
        </>
      )}
    />
  );
}
