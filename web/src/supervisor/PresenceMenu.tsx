import { Menu, MenuButton, MenuItem, useMenuState } from '@twilio-paste/core/menu';
import { StatusMenuItemChild } from '@twilio-paste/core/status';
import { ChevronDownIcon } from '@twilio-paste/icons/esm/ChevronDownIcon';
import { PRESENCE_LOOK } from './presence';
import { PRESENCES, type Presence } from './types';

/** A menu button that sets one agent's presence; the current presence is shown, not offered. */
export function PresenceMenu({
  agentName,
  current,
  onSelect,
}: {
  agentName: string;
  current: Presence;
  onSelect: (presence: Presence) => void;
}) {
  const menu = useMenuState({ placement: 'bottom-end' });
  return (
    <>
      <MenuButton
        {...menu}
        variant="secondary"
        size="small"
        aria-label={`Set presence of ${agentName}`}
      >
        Set presence <ChevronDownIcon decorative />
      </MenuButton>
      <Menu {...menu} aria-label={`Presence of ${agentName}`}>
        {PRESENCES.map((presence) => (
          <MenuItem
            {...menu}
            key={presence}
            disabled={presence === current}
            onClick={() => {
              menu.hide();
              onSelect(presence);
            }}
          >
            <StatusMenuItemChild variant={PRESENCE_LOOK[presence].variant}>
              {PRESENCE_LOOK[presence].label}
              {presence === current ? ' (now)' : ''}
            </StatusMenuItemChild>
          </MenuItem>
        ))}
      </Menu>
    </>
  );
}
