import { AlertDialog } from '@twilio-paste/core/alert-dialog';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { Table, TBody, Td, THead, Th, Tr } from '@twilio-paste/core/table';
import { DeleteIcon } from '@twilio-paste/icons/esm/DeleteIcon';
import { EditIcon } from '@twilio-paste/icons/esm/EditIcon';
import { PlusIcon } from '@twilio-paste/icons/esm/PlusIcon';
import { Fragment, type ReactNode, useEffect, useRef, useState } from 'react';
import { ApiError, errorText } from '../api';
import { LoadState } from '../ui/LoadState';
import type { Resource } from '../useResource';
import { type Archivable, ShowArchivedSwitch } from './Archiving';
import { NoticeCallout } from './NoticeCallout';

interface Column<T> {
  header: string;
  cell: (row: T) => ReactNode;
  /** Short values that read badly broken ("long-code", "1/s (default)"). */
  nowrap?: boolean;
}

export interface Notice {
  variant: 'success' | 'error';
  content: ReactNode;
}

/** What a section's form gets: the row to edit (null: a new one) and how to finish. */
export interface FormSlot<T> {
  row: T | null;
  /** Saved: reload the table, close the form, say so. */
  onSaved: (notice: ReactNode) => void;
  onCancel: () => void;
}

type Editing<T> = { row: T | null } | null;

/** The row being archived; `openConversations`: the server's count, asking what happens to them. */
type Archiving<T> = { row: T; openConversations?: string } | null;

/**
 * One admin section: its h1, a table of its rows, a "New …" button, and the create/edit
 * form above the table. Every section is this with its own columns and form.
 */
export function ResourceSection<T extends { id: string }>({
  title,
  noun,
  intro,
  list,
  columns,
  rowLabel,
  renderForm,
  rowActions,
  onDelete,
  aboveTable,
  canEdit = true,
  archive,
  archiveNote,
}: {
  title: string;
  /** "queue", for "New queue", "Edit queue …". */
  noun: string;
  intro: ReactNode;
  list: Resource<T[]>;
  columns: Column<T>[];
  rowLabel: (row: T) => string;
  renderForm: (slot: FormSlot<T>) => ReactNode;
  /** More buttons per row; `notify` shows their outcome at the top of the section. */
  rowActions?: (row: T, notify: (notice: Notice) => void) => ReactNode;
  onDelete?: (row: T) => Promise<void>;
  aboveTable?: ReactNode;
  /** False where the API cannot change a row once made. */
  canEdit?: boolean;
  /** Rows are archived, not deleted: an Archive / Restore button and a "Show archived" switch. */
  archive?: Archivable<T>;
  /** What archiving this row means beyond leaving lists, said in the confirmation. */
  archiveNote?: (row: T) => ReactNode;
}) {
  const [editing, setEditing] = useState<Editing<T>>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [deleting, setDeleting] = useState<T | null>(null);
  const [archiving, setArchiving] = useState<Archiving<T>>(null);
  // Where the keyboard was before a form opened, to go back there when it closes.
  const opener = useRef<HTMLElement | null>(null);
  const noticeBox = useRef<HTMLDivElement>(null);

  // A row's button (Set in Twilio, Delete) may be far below: bring its outcome into view.
  useEffect(() => {
    if (notice) noticeBox.current?.scrollIntoView({ block: 'nearest' });
  }, [notice]);

  const open = (row: T | null) => {
    opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setNotice(null);
    setEditing({ row });
  };
  const close = () => {
    setEditing(null);
    requestAnimationFrame(() => opener.current?.isConnected && opener.current.focus());
  };

  const confirmDelete = async () => {
    const row = deleting;
    setDeleting(null);
    if (!row || !onDelete) return;
    try {
      await onDelete(row);
      setNotice({ variant: 'success', content: `Deleted ${noun} “${rowLabel(row)}”.` });
      if (editing?.row?.id === row.id) setEditing(null);
      list.refresh();
    } catch (failure) {
      setNotice({ variant: 'error', content: errorText(failure) });
    }
  };

  const confirmArchive = async () => {
    const current = archiving;
    setArchiving(null);
    if (!current || !archive) return;
    const closing = current.openConversations !== undefined;
    try {
      await archive.archive(current.row, { closeOpenConversations: closing });
      setNotice({
        variant: 'success',
        content: `Archived ${noun} “${rowLabel(current.row)}”${closing ? ' and closed its open conversations' : ''}.`,
      });
      if (editing?.row?.id === current.row.id) setEditing(null);
      archive.list.refresh();
    } catch (failure) {
      if (
        !closing &&
        failure instanceof ApiError &&
        failure.status === 409 &&
        failure.field === 'openConversations'
      ) {
        // The server counted them: ask whether to close them rather than just refuse.
        setArchiving({ row: current.row, openConversations: failure.message });
        return;
      }
      setNotice({ variant: 'error', content: errorText(failure) });
    }
  };

  const restore = async (row: T) => {
    if (!archive) return;
    try {
      await archive.restore(row);
      setNotice({ variant: 'success', content: `Restored ${noun} “${rowLabel(row)}”.` });
      archive.list.refresh();
    } catch (failure) {
      setNotice({ variant: 'error', content: errorText(failure) });
    }
  };

  const actions = (row: T) =>
    archive?.isArchived(row) ? (
      <Box display="flex" columnGap="space30" alignItems="center">
        <Badge as="span" variant="neutral">
          Archived
        </Badge>
        <Button variant="secondary" size="small" onClick={() => restore(row)}>
          Restore<ScreenReaderOnly> {rowLabel(row)}</ScreenReaderOnly>
        </Button>
      </Box>
    ) : (
      <Box display="flex" columnGap="space30">
        {canEdit && (
          <Button variant="secondary" size="small" onClick={() => open(row)}>
            <EditIcon decorative />
            Edit<ScreenReaderOnly> {rowLabel(row)}</ScreenReaderOnly>
          </Button>
        )}
        {rowActions?.(row, setNotice)}
        {onDelete && (
          <Button variant="destructive_secondary" size="small" onClick={() => setDeleting(row)}>
            <DeleteIcon decorative />
            Delete<ScreenReaderOnly> {rowLabel(row)}</ScreenReaderOnly>
          </Button>
        )}
        {archive && (
          <Button
            variant="destructive_secondary"
            size="small"
            onClick={() => setArchiving({ row })}
          >
            Archive<ScreenReaderOnly> {rowLabel(row)}</ScreenReaderOnly>
          </Button>
        )}
      </Box>
    );

  return (
    <Box display="flex" flexDirection="column" rowGap="space70">
      <Box
        display="flex"
        alignItems="center"
        justifyContent="space-between"
        columnGap="space50"
        rowGap="space40"
        flexWrap="wrap"
      >
        <Heading as="h1" variant="heading20" marginBottom="space0">
          {title}
        </Heading>
        <Button variant="primary" onClick={() => open(null)}>
          <PlusIcon decorative />
          New {noun}
        </Button>
      </Box>
      <Paragraph marginBottom="space0">{intro}</Paragraph>

      {notice && (
        <Box ref={noticeBox}>
          <NoticeCallout variant={notice.variant} onDismiss={() => setNotice(null)}>
            {notice.content}
          </NoticeCallout>
        </Box>
      )}

      {editing && (
        // Keyed by row: a form opened for another row starts from that row, not the last draft.
        <Fragment key={editing.row?.id ?? 'new'}>
          {renderForm({
            row: editing.row,
            onSaved: (content) => {
              setNotice({ variant: 'success', content });
              close();
              list.refresh();
            },
            onCancel: close,
          })}
        </Fragment>
      )}

      {aboveTable}

      {archive && <ShowArchivedSwitch archivable={archive} title={title} />}

      <Rows
        title={title}
        list={list}
        columns={columns}
        actions={
          (canEdit ||
            rowActions !== undefined ||
            onDelete !== undefined ||
            archive !== undefined) &&
          actions
        }
      />

      {onDelete && (
        <AlertDialog
          heading={`Delete ${noun}?`}
          isOpen={deleting !== null}
          destructive
          onConfirm={confirmDelete}
          onConfirmLabel="Delete"
          onDismiss={() => setDeleting(null)}
          onDismissLabel="Keep it"
        >
          {deleting ? `“${rowLabel(deleting)}” will be removed. This cannot be undone.` : ''}
        </AlertDialog>
      )}

      {archive && (
        <AlertDialog
          heading={
            archiving?.openConversations ? 'Close its open conversations?' : `Archive ${noun}?`
          }
          isOpen={archiving !== null}
          destructive
          onConfirm={confirmArchive}
          onConfirmLabel={archiving?.openConversations ? 'Close them and archive' : 'Archive'}
          onDismiss={() => setArchiving(null)}
          onDismissLabel="Keep it"
        >
          {archiving?.openConversations ? (
            <>
              {archiving.openConversations} Closing them sends each customer the flow's final
              message; a customer who writes again starts a new conversation.
            </>
          ) : archiving ? (
            <>
              “{rowLabel(archiving.row)}” leaves lists and pickers; its conversations, transcripts
              and reports keep its name. {archiveNote?.(archiving.row)} You can restore it under
              “Show archived”.
            </>
          ) : (
            ''
          )}
        </AlertDialog>
      )}
    </Box>
  );
}

/** The table, or why there is none: loading, a failed load, no rows yet. */
function Rows<T extends { id: string }>({
  title,
  list,
  columns,
  actions,
}: {
  title: string;
  list: Resource<T[]>;
  columns: Column<T>[];
  /** Absent (false) when rows have no buttons: no empty column then. */
  actions: ((row: T) => ReactNode) | false;
}) {
  if (list.error || !list.data) {
    return <LoadState what={title.toLowerCase()} error={list.error} />;
  }
  if (list.data.length === 0) {
    return <Paragraph marginBottom="space0">No {title.toLowerCase()} yet.</Paragraph>;
  }
  return (
    // Wide tables scroll sideways inside the page on a phone instead of widening it.
    <Table aria-label={title} striped scrollHorizontally>
      <THead>
        <Tr>
          {columns.map((column) => (
            <Th key={column.header}>{column.header}</Th>
          ))}
          {actions && (
            <Th>
              <ScreenReaderOnly>Actions</ScreenReaderOnly>
            </Th>
          )}
        </Tr>
      </THead>
      <TBody>
        {list.data.map((row) => (
          <Tr key={row.id}>
            {columns.map((column) => (
              <Td key={column.header} whiteSpace={column.nowrap ? 'nowrap' : undefined}>
                {column.cell(row)}
              </Td>
            ))}
            {actions && <Td whiteSpace="nowrap">{actions(row)}</Td>}
          </Tr>
        ))}
      </TBody>
    </Table>
  );
}
