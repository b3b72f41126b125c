import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { Option, Select } from '@twilio-paste/core/select';
import { Table, TBody, Td, THead, Th, Tr } from '@twilio-paste/core/table';
import { Text } from '@twilio-paste/core/text';
import { Truncate } from '@twilio-paste/core/truncate';
import { DownloadIcon } from '@twilio-paste/icons/esm/DownloadIcon';
import { useId, useState } from 'react';
import { ApiError, api, errorText } from '../api';
import { FormDialog } from '../ui/FormDialog';
import { LoadState } from '../ui/LoadState';
import { useResource } from '../useResource';
import { NoticeCallout } from './NoticeCallout';
import type { Notice } from './ResourceSection';
import type { Account, AdminContentTemplate, TemplateSync } from './types';

/** The categories WhatsApp reviews a template under. */
const CATEGORIES = ['UTILITY', 'MARKETING', 'AUTHENTICATION'] as const;

/** WhatsApp's verdicts: sendable, waiting, and refused (with Meta's reason). */
const STATUS_VARIANTS: Record<string, 'success' | 'neutral' | 'error'> = {
  approved: 'success',
  pending: 'neutral',
  unsubmitted: 'neutral',
  received: 'neutral',
  rejected: 'error',
  paused: 'error',
  disabled: 'error',
};

/**
 * Content templates: synced from an account's Content API, with WhatsApp's approval. Only
 * approved ones can be sent outside the customer-service window; flows and queues pick them.
 */
export function TemplatesSection() {
  const accounts = useResource<Account[]>('/api/admin/accounts');
  const templates = useResource<AdminContentTemplate[]>('/api/admin/content-templates');
  const [picked, setPicked] = useState<string | null>(null);
  const [syncing, setSyncing] = useState(false);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [submitting, setSubmitting] = useState<AdminContentTemplate | null>(null);
  const selectId = useId();
  const accountId = picked ?? accounts.data?.[0]?.id ?? '';
  const account = accounts.data?.find((a) => a.id === accountId);
  const shown = templates.data?.filter((t) => t.accountId === accountId) ?? null;

  const sync = async () => {
    if (!account) return;
    setSyncing(true);
    setNotice(null);
    try {
      const result = await api<TemplateSync>(
        `/api/admin/accounts/${account.id}/content-templates/sync`,
        { method: 'POST' },
      );
      setNotice({
        variant: 'success',
        content: `Synced ${result.synced} template${result.synced === 1 ? '' : 's'} from “${account.name}”; removed ${result.removed}.`,
      });
      templates.refresh();
    } catch (failure) {
      setNotice({ variant: 'error', content: errorText(failure) });
    } finally {
      setSyncing(false);
    }
  };

  return (
    <Box display="flex" flexDirection="column" rowGap="space70">
      <Heading as="h1" variant="heading20" marginBottom="space0">
        Templates
      </Heading>
      <Paragraph marginBottom="space0">
        Content templates made in Twilio's Content Template Builder, as last synced. Outside
        WhatsApp's 24-hour customer-service window only an approved one can be sent: flows send them
        in place of their automated messages, agents pick them in the desk (those of their queue, if
        it names any). One not submitted yet can be sent to WhatsApp's review from here.
      </Paragraph>
      <LoadState what="the accounts" loading={accounts.data === null} error={accounts.error} />
      {accounts.data?.length === 0 && (
        <Paragraph marginBottom="space0">Add a Twilio account first.</Paragraph>
      )}
      {account && (
        <Box
          display="flex"
          alignItems="flex-end"
          flexWrap="wrap"
          columnGap="space50"
          rowGap="space40"
        >
          <Box minWidth="size30">
            <Label htmlFor={selectId}>Account</Label>
            <Select id={selectId} value={accountId} onChange={(e) => setPicked(e.target.value)}>
              {(accounts.data ?? []).map((a) => (
                <Option key={a.id} value={a.id}>
                  {a.name}
                </Option>
              ))}
            </Select>
          </Box>
          <Button variant="secondary" onClick={sync} loading={syncing}>
            <DownloadIcon decorative />
            Sync from Twilio
          </Button>
        </Box>
      )}
      {notice && (
        <NoticeCallout variant={notice.variant} onDismiss={() => setNotice(null)}>
          {notice.content}
        </NoticeCallout>
      )}
      {account &&
        (shown === null ? (
          <LoadState what="the templates" error={templates.error} />
        ) : shown.length === 0 ? (
          <Paragraph marginBottom="space0">No templates synced from this account yet.</Paragraph>
        ) : (
          <Table aria-label="Templates" striped scrollHorizontally>
            <THead>
              <Tr>
                <Th>Name</Th>
                <Th>Language</Th>
                <Th>Body</Th>
                <Th>WhatsApp</Th>
                <Th>Category</Th>
                <Th>Content SID</Th>
                <Th>
                  <ScreenReaderOnly>Actions</ScreenReaderOnly>
                </Th>
              </Tr>
            </THead>
            <TBody>
              {shown.map((template) => (
                <Tr key={template.id}>
                  <Td>{template.friendlyName}</Td>
                  <Td>{template.language}</Td>
                  <Td>
                    {/* Long bodies would make the table very wide. */}
                    <Box maxWidth="size40">
                      <Truncate title={template.body}>{template.body}</Truncate>
                    </Box>
                  </Td>
                  <Td>
                    <WhatsAppStatus template={template} />
                  </Td>
                  <Td>{template.whatsappCategory ?? '—'}</Td>
                  <Td whiteSpace="nowrap">{template.sid}</Td>
                  <Td whiteSpace="nowrap">
                    {template.whatsappStatus === 'unsubmitted' && (
                      <Button
                        variant="secondary"
                        size="small"
                        onClick={() => {
                          setNotice(null);
                          setSubmitting(template);
                        }}
                      >
                        Submit to WhatsApp
                        <ScreenReaderOnly> {template.friendlyName}</ScreenReaderOnly>
                      </Button>
                    )}
                  </Td>
                </Tr>
              ))}
            </TBody>
          </Table>
        ))}
      {submitting && (
        <ApprovalDialog
          key={submitting.id}
          template={submitting}
          onClose={() => setSubmitting(null)}
          onSubmitted={(updated) => {
            setSubmitting(null);
            setNotice({
              variant: 'success',
              content: `Submitted “${updated.friendlyName}” to WhatsApp: ${updated.whatsappStatus}.`,
            });
            templates.refresh();
          }}
        />
      )}
    </Box>
  );
}

/** WhatsApp's review of one template: the name and category it is reviewed under. */
function ApprovalDialog({
  template,
  onClose,
  onSubmitted,
}: {
  template: AdminContentTemplate;
  onClose: () => void;
  onSubmitted: (updated: AdminContentTemplate) => void;
}) {
  const [name, setName] = useState(
    template.friendlyName.toLowerCase().replace(/[^a-z0-9_]+/g, '_'),
  );
  const [category, setCategory] = useState<string>(template.whatsappCategory ?? 'UTILITY');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | null>(null);
  const ids = { name: useId(), nameHelp: useId(), category: useId() };

  const submit = async () => {
    setBusy(true);
    setError(null);
    setFieldError(null);
    try {
      onSubmitted(
        await api<AdminContentTemplate>(
          `/api/admin/content-templates/${template.id}/whatsapp-approval`,
          { body: { name, category } },
        ),
      );
    } catch (failure) {
      setError(errorText(failure));
      if (failure instanceof ApiError && failure.field) {
        setFieldError({ field: failure.field, message: failure.message });
      }
    } finally {
      setBusy(false);
    }
  };

  const nameError = fieldError?.field === 'name' ? fieldError.message : null;
  return (
    <FormDialog
      heading={`Submit “${template.friendlyName}” to WhatsApp`}
      isOpen
      onClose={onClose}
      onSubmit={submit}
      submitLabel="Submit"
      busy={busy}
      error={error}
    >
      <Box>
        <Label htmlFor={ids.name} required>
          WhatsApp template name
        </Label>
        <Input
          id={ids.name}
          type="text"
          value={name}
          onChange={(event) => setName(event.target.value)}
          hasError={Boolean(nameError)}
          aria-describedby={ids.nameHelp}
          required
        />
        <HelpText id={ids.nameHelp} variant={nameError ? 'error' : 'default'}>
          {nameError ?? 'Lowercase letters, digits and underscores.'}
        </HelpText>
      </Box>
      <Box>
        <Label htmlFor={ids.category}>Category</Label>
        <Select
          id={ids.category}
          value={category}
          onChange={(event) => setCategory(event.target.value)}
        >
          {CATEGORIES.map((c) => (
            <Option key={c} value={c}>
              {c}
            </Option>
          ))}
        </Select>
      </Box>
    </FormDialog>
  );
}

function WhatsAppStatus({ template }: { template: AdminContentTemplate }) {
  const variant = STATUS_VARIANTS[template.whatsappStatus] ?? 'neutral';
  return (
    <Box display="flex" flexDirection="column" alignItems="flex-start" rowGap="space10">
      <Badge as="span" variant={variant}>
        {template.whatsappStatus}
      </Badge>
      {variant === 'error' && template.rejectionReason && (
        <Text as="span" fontSize="fontSize20" color="colorTextError">
          {template.rejectionReason}
        </Text>
      )}
    </Box>
  );
}
