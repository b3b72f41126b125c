import { Box } from '@twilio-paste/core/box';
import { Label } from '@twilio-paste/core/label';
import { Option, Select } from '@twilio-paste/core/select';
import { TextArea } from '@twilio-paste/core/textarea';
import { useEffect, useId, useState } from 'react';
import { api, errorText } from '../api';
import { useSession } from '../session';
import { FormDialog } from '../ui/FormDialog';
import type { Directory } from './types';

/** Hand the conversation to another agent (offered to them) or back to a queue, with a note. */
export function TransferDialog({
  conversationId,
  isOpen,
  onClose,
  onTransferred,
}: {
  conversationId: string;
  isOpen: boolean;
  onClose: () => void;
  onTransferred: () => void;
}) {
  const { me } = useSession();
  const [directory, setDirectory] = useState<Directory | null>(null);
  const [target, setTarget] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const targetId = useId();
  const noteId = useId();

  useEffect(() => {
    if (!isOpen) return;
    setError(null);
    api<Directory>('/api/directory')
      .then(setDirectory)
      .catch((failure) => setError(errorText(failure)));
  }, [isOpen]);

  const submit = async () => {
    const [kind, id] = target.split(':');
    if (!kind || !id) {
      setError('Choose an agent or a queue');
      return;
    }
    setBusy(true);
    try {
      await api(`/api/conversations/${conversationId}/transfer`, {
        body: {
          ...(kind === 'agent' ? { toAgentId: id } : { toQueueId: id }),
          ...(note.trim() ? { note } : {}),
        },
      });
      onTransferred();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const agents = directory?.agents.filter((agent) => agent.id !== me.id) ?? [];
  return (
    <FormDialog
      heading="Transfer conversation"
      isOpen={isOpen}
      onClose={onClose}
      onSubmit={submit}
      submitLabel="Transfer"
      busy={busy}
      error={error}
    >
      <Box>
        <Label htmlFor={targetId} required>
          Transfer to
        </Label>
        <Select id={targetId} value={target} onChange={(e) => setTarget(e.target.value)}>
          <Option value="">Choose…</Option>
          {directory?.queues.map((queue) => (
            <Option key={queue.id} value={`queue:${queue.id}`}>
              Queue: {queue.name}
            </Option>
          ))}
          {agents.map((agent) => (
            <Option key={agent.id} value={`agent:${agent.id}`}>
              {agent.name} ({agent.presence})
            </Option>
          ))}
        </Select>
      </Box>
      <Box>
        <Label htmlFor={noteId}>Note for whoever takes it</Label>
        <TextArea id={noteId} value={note} onChange={(e) => setNote(e.target.value)} />
      </Box>
    </FormDialog>
  );
}
