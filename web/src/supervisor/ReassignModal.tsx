import { Box } from '@twilio-paste/core/box';
import { HelpText } from '@twilio-paste/core/help-text';
import { Label } from '@twilio-paste/core/label';
import { Option, Select } from '@twilio-paste/core/select';
import { useEffect, useId, useState } from 'react';
import { api, errorText } from '../api';
import { FormDialog } from '../ui/FormDialog';
import { LoadState } from '../ui/LoadState';
import { PRESENCE_LOOK } from './presence';
import type { ConversationSummary, Directory } from './types';

type DirectoryAgent = Directory['agents'][number];

/** Presence order in the list: whoever can take the conversation now comes first. */
const PRESENCE_RANK = { available: 0, away: 1, offline: 2 } as const;

/**
 * Hands a conversation to an agent of the supervisor's choosing. Rendered only while open:
 * the directory is read each time it opens, so presences are as of now.
 */
export function ReassignModal({
  conversation,
  onClose,
  onReassigned,
}: {
  conversation: ConversationSummary;
  onClose: () => void;
  onReassigned: () => void;
}) {
  const selectId = useId();
  const helpId = useId();
  const [agents, setAgents] = useState<DirectoryAgent[] | null>(null);
  const [agentId, setAgentId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    let current = true;
    api<Directory>('/api/directory').then(
      (directory) => {
        if (!current) return;
        const candidates = directory.agents
          .filter((agent) => agent.role === 'agent')
          .sort(
            (a, b) =>
              PRESENCE_RANK[a.presence] - PRESENCE_RANK[b.presence] || a.name.localeCompare(b.name),
          );
        setAgents(candidates);
        const first = candidates.find((agent) => agent.id !== conversation.agentId);
        setAgentId(first?.id ?? '');
      },
      (failure: unknown) => current && setError(errorText(failure)),
    );
    return () => {
      current = false;
    };
  }, [conversation.agentId]);

  const submit = async () => {
    if (!agentId) return;
    setSaving(true);
    setError(null);
    try {
      await api(`/api/conversations/${conversation.id}/reassign`, { body: { agentId } });
      onReassigned();
    } catch (failure) {
      // The server says why it refused (agent offline, at capacity, conversation closed…).
      setError(`Not reassigned: ${errorText(failure)}.`);
      setSaving(false);
    }
  };

  return (
    <FormDialog
      heading={`Reassign conversation with ${conversation.customerAddress}`}
      isOpen
      onClose={onClose}
      onSubmit={submit}
      submitLabel="Reassign"
      busy={saving}
      canSubmit={Boolean(agentId)}
      error={error}
    >
      {/* A failure to load shows as the dialog's error. */}
      {agents === null && !error && <LoadState what="the agents" />}
      {agents && (
        <Box>
          <Label htmlFor={selectId} required>
            Agent
          </Label>
          <Select
            id={selectId}
            value={agentId}
            onChange={(e) => setAgentId(e.target.value)}
            aria-describedby={helpId}
            required
          >
            {agents.length === 0 ? (
              <Option value="">No agents</Option>
            ) : (
              agents.map((agent) => (
                <Option key={agent.id} value={agent.id}>
                  {agentOptionText(agent, conversation.agentId)}
                </Option>
              ))
            )}
          </Select>
          <HelpText id={helpId}>
            {conversation.agentName
              ? `Now with ${conversation.agentName}. `
              : 'Not with any agent now. '}
            The conversation becomes active with the agent you choose, without an offer.
          </HelpText>
        </Box>
      )}
    </FormDialog>
  );
}

function agentOptionText(agent: DirectoryAgent, currentAgentId: string | null): string {
  const presence = PRESENCE_LOOK[agent.presence].label.toLowerCase();
  return `${agent.name} (${presence}${agent.id === currentAgentId ? ', has it now' : ''})`;
}
