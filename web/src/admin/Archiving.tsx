/**
 * Archiving in an admin section: the list with or without archived rows ("Show archived"),
 * and the API calls. Nothing is deleted: DELETE archives, POST …/restore restores, and the
 * server refuses with a sentence while something still depends on the row.
 */
import { Switch } from '@twilio-paste/core/switch';
import { useMemo, useState } from 'react';
import { api } from '../api';
import { type Resource, useResource } from '../useResource';

export interface Archivable<T> {
  /** The rows shown: in use, and archived ones too while `showArchived`. */
  list: Resource<T[]>;
  /** The rows in use, for pickers: an archived row may not be chosen. */
  inUse: T[];
  showArchived: boolean;
  setShowArchived: (show: boolean) => void;
  isArchived: (row: T) => boolean;
  /** `closeOpenConversations`: a number's open conversations are closed with it. */
  archive: (row: T, options?: { closeOpenConversations?: boolean }) => Promise<void>;
  restore: (row: T) => Promise<void>;
}

/** The section's rows at `path` (an admin collection whose rows carry archivedAt). */
export function useArchivable<T extends { id: string; archivedAt: string | null }>(
  path: string,
): Archivable<T> {
  const [showArchived, setShowArchived] = useState(false);
  const list = useResource<T[]>(showArchived ? `${path}?archived=include` : path);
  const inUse = useMemo(() => (list.data ?? []).filter((row) => !row.archivedAt), [list.data]);
  return {
    list,
    inUse,
    showArchived,
    setShowArchived,
    isArchived: (row) => row.archivedAt !== null,
    archive: (row, options) =>
      api(`${path}/${row.id}${options?.closeOpenConversations ? '?openConversations=close' : ''}`, {
        method: 'DELETE',
      }),
    restore: (row) => api(`${path}/${row.id}/restore`, { method: 'POST' }),
  };
}

export function ShowArchivedSwitch({
  archivable,
  title,
}: {
  archivable: Pick<Archivable<unknown>, 'showArchived' | 'setShowArchived'>;
  title: string;
}) {
  return (
    <Switch
      id={`show-archived-${title.toLowerCase().replace(/\W+/g, '-')}`}
      checked={archivable.showArchived}
      onChange={(event) => archivable.setShowArchived(event.target.checked)}
    >
      Show archived {title.toLowerCase()}
    </Switch>
  );
}
