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
  $createParagraphNode,
  $createTextNode,
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
import { TimeIcon } from '@twilio-paste/icons/esm/TimeIcon';
import { useEffect, useId, useRef, useState } from 'react';
import { ApiError, api, errorText } from '../api';
import { timeLeftText } from '../content/serviceWindow';
import { type TemplateError, templateErrorOf } from '../content/TemplateFields';
import { TemplatePicker } from '../content/TemplatePicker';
import { fillQuickReply } from '../content/templateText';
import type { TemplateChoice } from '../content/types';
import type { WindowState } from '../content/useWindowState';
import { useSession } from '../session';
import { ErrorCallout } from '../ui/ErrorCallout';
import { useErrorBox } from '../useResource';
import { keepDraft, readDraft } from './drafts';
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
            onClick={(event) => {
              // A menu item is a button inside the reply form: picking must not send the reply.
              event.preventDefault();
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
 * Free text: Paste's ChatComposer (a Lexical editor) with the segment counter, attachments
 * when the flow allows them, quick replies, the way to a template where the channel has
 * them, and Send.
 */
function ReplyComposer({
  conversationId,
  allowAttachments,
  customerName,
  onTemplate,
}: {
  conversationId: string;
  allowAttachments: boolean;
  customerName: string | null;
  /** Switches to the template picker; absent where the channel has no templates. */
  onTemplate: (() => void) | undefined;
}) {
  const { me } = useSession();
  const [initialDraft] = useState(() => readDraft(me.id, conversationId));
  const [text, setText] = useState(initialDraft);
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  const { error, show: setError, fail } = useErrorBox();
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
      fail(failure);
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
            // The unsent draft of this conversation, one paragraph per line; without one,
            // Lexical's own empty paragraph (an empty root takes no inserted text).
            ...(initialDraft && {
              editorState: () => {
                for (const line of initialDraft.split('\n')) {
                  $getRoot().append($createParagraphNode().append($createTextNode(line)));
                }
              },
            }),
          }}
          ariaLabelledBy={labelId}
          ariaDescribedBy={helpId}
          placeholder="Type a reply"
          maxHeight="size20"
          editorInstanceRef={editor}
          onChange={(state) =>
            state.read(() => {
              const typed = $getRoot().getTextContent();
              setText(typed);
              keepDraft(me.id, conversationId, typed);
            })
          }
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
        <QuickReplies
          onPick={(body) => insert(fillQuickReply(body, { customerName, agentName: me.name }))}
          onError={setError}
        />
        {onTemplate && (
          <Button variant="secondary" size="small" onClick={onTemplate}>
            Template
          </Button>
        )}
        <Box flexGrow={1} />
        <Button variant="primary" type="submit" loading={sending}>
          Send
        </Button>
      </Box>
    </Box>
  );
}

/** An approved template, filled in and previewed, sent in the conversation. */
function TemplateComposer({
  conversationId,
  numberId,
  onDone,
}: {
  conversationId: string;
  numberId: string;
  /** Back to free text, after a send or instead of one; absent while the window is closed. */
  onDone: (() => void) | undefined;
}) {
  const [choice, setChoice] = useState<TemplateChoice | null>(null);
  const { error, show: setError, fail } = useErrorBox();
  const [fault, setFault] = useState<TemplateError | undefined>(undefined);
  const [sending, setSending] = useState(false);
  const labelId = useId();

  const send = async () => {
    if (sending) return;
    if (!choice) {
      setFault({ at: 'contentSid', message: 'Choose a template' });
      return;
    }
    setSending(true);
    setError(null);
    setFault(undefined);
    try {
      await api(`/api/conversations/${conversationId}/messages`, { body: { template: choice } });
      setChoice(null);
      onDone?.();
    } catch (failure) {
      fail(failure);
      if (failure instanceof ApiError) {
        setFault(templateErrorOf(failure.field, failure.message, 'template'));
      }
    } finally {
      setSending(false);
    }
  };

  return (
    <Box
      as="form"
      aria-labelledby={labelId}
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
      display="flex"
      flexDirection="column"
      rowGap="space40"
    >
      <Text as="p" id={labelId} fontWeight="fontWeightSemibold">
        Send a template
      </Text>
      {error && <ErrorCallout>{error}</ErrorCallout>}
      <TemplatePicker
        numberId={numberId}
        conversationId={conversationId}
        value={choice}
        onChange={(next) => {
          setChoice(next);
          setFault(undefined);
        }}
        error={fault}
      />
      <Box display="flex" flexWrap="wrap" alignItems="center" columnGap="space30" rowGap="space20">
        {onDone && (
          <Button variant="secondary" size="small" onClick={onDone}>
            Write a reply
          </Button>
        )}
        <Box flexGrow={1} />
        <Button variant="primary" type="submit" loading={sending}>
          Send template
        </Button>
      </Box>
    </Box>
  );
}

/** "Window closes in 3 h 12 min", or that it has closed and what can be sent now. */
function WindowStatus({ state }: { state: ComposerWindow }) {
  const text = state.open
    ? state.leftMs === null
      ? null
      : `Window closes in ${timeLeftText(state.leftMs)}`
    : state.templatesAllowed
      ? 'Window closed: send a template'
      : 'Window closed: nothing can be sent until the customer writes again';
  if (!text) return null;
  return (
    <Box display="flex" alignItems="center" columnGap="space20" marginBottom="space30">
      <TimeIcon decorative color={state.open ? 'colorTextIconNeutral' : 'colorTextIconError'} />
      <Text
        as="p"
        fontSize="fontSize20"
        color={state.open ? 'colorTextWeak' : 'colorTextError'}
        data-testid="service-window"
      >
        {text}
      </Text>
    </Box>
  );
}

/** The customer-service window as the composer needs it (see useWindowState). */
export interface ComposerWindow extends WindowState {
  templatesAllowed: boolean;
}

/**
 * The reply box of an active conversation: the customer-service window's countdown where
 * the channel has one, then free text while it is open (or a template, on request), only a
 * template once it has closed (WhatsApp), and nothing at all on a channel without them.
 */
export function Composer({
  conversationId,
  numberId,
  allowAttachments,
  disabledReason,
  serviceWindow,
  customerName,
}: {
  conversationId: string;
  numberId: string;
  allowAttachments: boolean;
  disabledReason: string | null;
  serviceWindow: ComposerWindow;
  /** The contact's name, for quick replies' {{customerName}}. */
  customerName: string | null;
}) {
  const [usingTemplate, setUsingTemplate] = useState(false);
  if (disabledReason) {
    return (
      <Callout variant="neutral">
        <CalloutText>{disabledReason}</CalloutText>
      </Callout>
    );
  }
  const closed = !serviceWindow.open;
  return (
    <>
      <WindowStatus state={serviceWindow} />
      {closed && !serviceWindow.templatesAllowed ? (
        <Callout variant="neutral">
          <CalloutText>
            This channel accepts nothing from you outside the customer-service window. The
            conversation can go on once the customer writes.
          </CalloutText>
        </Callout>
      ) : closed || usingTemplate ? (
        <TemplateComposer
          conversationId={conversationId}
          numberId={numberId}
          onDone={closed ? undefined : () => setUsingTemplate(false)}
        />
      ) : (
        <ReplyComposer
          conversationId={conversationId}
          allowAttachments={allowAttachments}
          customerName={customerName}
          onTemplate={serviceWindow.templatesAllowed ? () => setUsingTemplate(true) : undefined}
        />
      )}
    </>
  );
}
