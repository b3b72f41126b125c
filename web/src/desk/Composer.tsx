import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Callout, CalloutText } from '@twilio-paste/core/callout';
import {
  ChatComposer,
  ChatComposerAttachmentCard,
  ChatComposerAttachmentDescription,
  ChatComposerAttachmentGroup,
  ChatComposerContainer,
} from '@twilio-paste/core/chat-composer';
import { HelpText } from '@twilio-paste/core/help-text';
import { Label } from '@twilio-paste/core/label';
import {
  $getRoot,
  $getSelection,
  $isRangeSelection,
  CLEAR_EDITOR_COMMAND,
  ClearEditorPlugin,
  COMMAND_PRIORITY_HIGH,
  KEY_ENTER_COMMAND,
  type LexicalEditor,
  useLexicalComposerContext,
} from '@twilio-paste/core/lexical-library';
import { Menu, MenuButton, MenuItem, useMenuState } from '@twilio-paste/core/menu';
import { Text } from '@twilio-paste/core/text';
import { AttachIcon } from '@twilio-paste/icons/esm/AttachIcon';
import { ChevronDownIcon } from '@twilio-paste/icons/esm/ChevronDownIcon';
import { useEffect, useId, useRef, useState } from 'react';
import { api, errorText } from '../api';
import { ErrorCallout } from '../ui/ErrorCallout';
import type { QuickReply, SegmentCount } from './types';

/** What the server accepts as an attachment (src/outbound/attachments.ts). */
const ACCEPT =
  'image/jpeg,image/png,image/gif,image/webp,audio/mpeg,audio/ogg,video/mp4,video/3gpp,application/pdf,text/vcard';

export interface Attachment {
  token: string;
  name: string;
  /** The file's type and size as the browser read them, for its card. */
  type: string;
  size: number;
}

/** Uploads one file's bytes; the token it returns goes with the message. */
async function uploadAttachment(file: File): Promise<Attachment> {
  const uploaded = await api<{ token: string }>('/api/uploads', {
    method: 'POST',
    raw: file,
    contentType: file.type || 'application/octet-stream',
  });
  return { token: uploaded.token, name: file.name, type: file.type || 'file', size: file.size };
}

function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

interface Segments {
  count: SegmentCount | null;
  /** Why the server did not count them, if it did not. */
  failure: string | null;
}

/** Segments and encoding of the text so far, counted by the server as Twilio counts them. */
function useSegments(text: string): Segments {
  const [segments, setSegments] = useState<Segments>({ count: null, failure: null });
  useEffect(() => {
    if (!text) {
      setSegments({ count: null, failure: null });
      return;
    }
    const timer = setTimeout(() => {
      api<SegmentCount>('/api/segments', { body: { text } }).then(
        (count) => setSegments({ count, failure: null }),
        (failure: unknown) => setSegments({ count: null, failure: errorText(failure) }),
      );
    }, 150);
    return () => clearTimeout(timer);
  }, [text]);
  return segments;
}

export function SegmentCounter({ text, id, hint }: { text: string; id: string; hint: string }) {
  const { count, failure } = useSegments(text);
  return (
    <HelpText id={id} variant={failure ? 'warning' : 'default'}>
      {failure
        ? `Could not count the segments: ${failure}`
        : count
          ? `${text.length} characters · ${count.segments} segment${count.segments === 1 ? '' : 's'} (${count.encoding})`
          : hint}
    </HelpText>
  );
}

/** Choose files and upload them; AttachmentCards shows them. */
export function AttachmentPicker({
  attachments,
  onChange,
  onError,
}: {
  attachments: Attachment[];
  onChange: (next: Attachment[]) => void;
  onError: (message: string) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [uploading, setUploading] = useState(false);
  const pick = async (files: FileList | null) => {
    if (!files?.length) return;
    setUploading(true);
    try {
      const added = await Promise.all([...files].map(uploadAttachment));
      onChange([...attachments, ...added]);
    } catch (error) {
      onError(errorText(error));
    } finally {
      setUploading(false);
      if (input.current) input.current.value = '';
    }
  };
  return (
    <>
      <input
        ref={input}
        type="file"
        accept={ACCEPT}
        multiple
        hidden
        data-testid="attachment-input"
        onChange={(event) => pick(event.target.files)}
      />
      <Button
        variant="secondary"
        size="small"
        loading={uploading}
        onClick={() => input.current?.click()}
      >
        <AttachIcon decorative />
        Attach
      </Button>
    </>
  );
}

/** The files chosen so far, a card each with its remove button. */
export function AttachmentCards({
  attachments,
  onChange,
}: {
  attachments: Attachment[];
  onChange: (next: Attachment[]) => void;
}) {
  if (attachments.length === 0) return null;
  return (
    <ChatComposerAttachmentGroup columns={[1, 2]}>
      {attachments.map((attachment) => (
        <ChatComposerAttachmentCard
          key={attachment.token}
          attachmentIcon={<AttachIcon decorative />}
          i18nDismissLabel={`Remove ${attachment.name}`}
          onDismiss={() => onChange(attachments.filter((a) => a !== attachment))}
        >
          <Text as="div" fontWeight="fontWeightSemibold" wordBreak="break-word">
            {attachment.name}
          </Text>
          <ChatComposerAttachmentDescription>
            {`${attachment.type} · ${fileSize(attachment.size)}`}
          </ChatComposerAttachmentDescription>
        </ChatComposerAttachmentCard>
      ))}
    </ChatComposerAttachmentGroup>
  );
}

function QuickReplies({
  onPick,
  onError,
}: {
  onPick: (body: string) => void;
  onError: (message: string) => void;
}) {
  const menu = useMenuState();
  const [replies, setReplies] = useState<QuickReply[]>([]);
  useEffect(() => {
    api<QuickReply[]>('/api/quick-replies').then(setReplies, (failure: unknown) =>
      onError(`Could not load the quick replies: ${errorText(failure)}`),
    );
  }, [onError]);
  if (replies.length === 0) return null;
  return (
    <>
      <MenuButton {...menu} variant="secondary" size="small">
        Quick replies <ChevronDownIcon decorative />
      </MenuButton>
      <Menu {...menu} aria-label="Quick replies">
        {replies.map((reply) => (
          <MenuItem
            {...menu}
            key={reply.id}
            onClick={() => {
              onPick(reply.body);
              menu.hide();
            }}
          >
            {reply.title}
          </MenuItem>
        ))}
      </Menu>
    </>
  );
}

/** Enter sends (Shift+Enter starts a new line), inside the Lexical editor of ChatComposer. */
function EnterSends({ onEnter }: { onEnter: () => void }) {
  const [editor] = useLexicalComposerContext();
  const latest = useRef(onEnter);
  useEffect(() => {
    latest.current = onEnter;
  });
  useEffect(
    () =>
      editor.registerCommand(
        KEY_ENTER_COMMAND,
        (event: KeyboardEvent | null) => {
          if (event?.shiftKey || event?.isComposing) return false;
          event?.preventDefault();
          latest.current();
          return true;
        },
        COMMAND_PRIORITY_HIGH,
      ),
    [editor],
  );
  return null;
}

/**
 * The reply box of an active conversation: Paste's ChatComposer (a Lexical editor) with
 * the segment counter, attachments when the flow allows them, quick replies and Send.
 */
export function Composer({
  conversationId,
  allowAttachments,
  disabledReason,
}: {
  conversationId: string;
  allowAttachments: boolean;
  disabledReason: string | null;
}) {
  const [text, setText] = useState('');
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const editor = useRef<LexicalEditor | null>(null);
  const labelId = useId();
  const helpId = useId();

  const send = async () => {
    if (sending || (!text.trim() && attachments.length === 0)) return;
    setSending(true);
    setError(null);
    try {
      await api(`/api/conversations/${conversationId}/messages`, {
        body: { body: text, attachments: attachments.map((a) => a.token) },
      });
      editor.current?.dispatchCommand(CLEAR_EDITOR_COMMAND, undefined);
      setAttachments([]);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setSending(false);
    }
  };
  const insert = (body: string) => {
    editor.current?.update(() => {
      const selection = $getSelection();
      const at = $isRangeSelection(selection) ? selection : $getRoot().selectEnd();
      at.insertText(body);
    });
    editor.current?.focus();
  };

  if (disabledReason) {
    return (
      <Callout variant="neutral">
        <CalloutText>{disabledReason}</CalloutText>
      </Callout>
    );
  }
  return (
    <Box
      as="form"
      aria-labelledby={labelId}
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      {error && (
        <Box marginBottom="space30">
          <ErrorCallout>{error}</ErrorCallout>
        </Box>
      )}
      <Label as="div" id={labelId}>
        Reply
      </Label>
      <ChatComposerContainer variant="contained">
        <ChatComposer
          config={{
            namespace: `reply-${conversationId}`,
            onError: (failure: Error) => setError(failure.message),
          }}
          ariaLabelledBy={labelId}
          ariaDescribedBy={helpId}
          placeholder="Type a reply"
          maxHeight="size20"
          editorInstanceRef={editor}
          onChange={(state) => state.read(() => setText($getRoot().getTextContent()))}
        >
          <ClearEditorPlugin />
          <EnterSends onEnter={send} />
        </ChatComposer>
        <AttachmentCards attachments={attachments} onChange={setAttachments} />
      </ChatComposerContainer>
      <SegmentCounter text={text} id={helpId} hint="Enter sends, Shift+Enter starts a new line" />
      <Box
        display="flex"
        flexWrap="wrap"
        alignItems="center"
        columnGap="space30"
        rowGap="space20"
        marginTop="space30"
      >
        {allowAttachments && (
          <AttachmentPicker
            attachments={attachments}
            onChange={setAttachments}
            onError={setError}
          />
        )}
        <QuickReplies onPick={insert} onError={setError} />
        <Box flexGrow={1} />
        <Button variant="primary" type="submit" loading={sending}>
          Send
        </Button>
      </Box>
    </Box>
  );
}
