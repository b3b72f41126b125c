import { RadioButton, RadioButtonGroup } from '@twilio-paste/core/radio-button-group';
import type { Presence } from './types';

const LABELS: Record<Presence, string> = {
  available: 'Available',
  away: 'Away',
  offline: 'Offline',
};

/** Available: conversations are offered to me; away and offline: they are not. */
export function PresenceSwitch({
  presence,
  onChange,
}: {
  presence: Presence | null;
  onChange: (presence: Presence) => void;
}) {
  return (
    <RadioButtonGroup
      name="presence"
      legend="My presence"
      attached
      value={presence ?? ''}
      onChange={(value) => onChange(value as Presence)}
    >
      {/* Checked per button: Paste decides on the first render whether a radio is
          controlled, and the group has no value until the presence has loaded. */}
      {(Object.keys(LABELS) as Presence[]).map((value) => (
        <RadioButton key={value} value={value} checked={presence === value}>
          {LABELS[value]}
        </RadioButton>
      ))}
    </RadioButtonGroup>
  );
}
