import { MultiselectCombobox } from '@twilio-paste/core/combobox';
import { useState } from 'react';
import type { ContentTemplate } from '../content/types';
import type { Bound } from './useDraft';

/** Several content templates by SID, chosen by name; a SID no longer synced stays listed. */
export function TemplateSidsField({
  value,
  onChange,
  error,
  label,
  help,
  templates,
}: Bound<string[]> & { label: string; help: string; templates: ContentTemplate[] }) {
  const [filter, setFilter] = useState('');
  const bySid = new Map(templates.map((t) => [t.sid, t]));
  const all = [...new Set([...value, ...templates.map((t) => t.sid)])];
  const name = (sid: string) => {
    const template = bySid.get(sid);
    return template ? `${template.friendlyName} (${template.language})` : `${sid} (not synced)`;
  };
  const wanted = filter.trim().toLowerCase();
  const items = all.filter((sid) => !wanted || name(sid).toLowerCase().includes(wanted));
  return (
    <MultiselectCombobox
      labelText={label}
      selectedItemsLabelText="Templates chosen"
      helpText={error ?? help}
      hasError={Boolean(error)}
      items={items}
      itemToString={(sid: string | null) => (sid ? name(sid) : '')}
      optionTemplate={(sid: string) => name(sid)}
      initialSelectedItems={value}
      // Paste calls this with the selected items themselves, not the state change its types say.
      onSelectedItemsChange={(selected: unknown) =>
        onChange(Array.isArray(selected) ? selected.filter((sid) => typeof sid === 'string') : [])
      }
      onInputValueChange={({ inputValue }) => setFilter(inputValue ?? '')}
      emptyState={() => <>No template matches.</>}
    />
  );
}
