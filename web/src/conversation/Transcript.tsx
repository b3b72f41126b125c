import { Anchor } from '@twilio-paste/core/anchor';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import {
  ChatBookend,
  ChatBookendItem,
  ChatBubble,
  ChatEvent,
  ChatLog,
  ChatMessage,
  ChatMessageMeta,
  ChatMessageMetaItem,
} from '@twilio-paste/core/chat-log';
import { Text } from '@twilio-paste/core/text';
import { useEffect, useRef } from 'react';
import type {
  TranscriptActivity,
  Transcript as TranscriptData,
  TranscriptMedia,
  TranscriptMessage,
} from './types';

/** How an RCS-capable Messaging Service carried a message. */
const SENT_AS: Record<string, string> = { rcs: 'RCS', sms: 'SMS fallback', mms: 'MMS fallback' };

/** Statuses that mean an outbound message did not reach the customer. */
const FAILED = new Set(['failed', 'undelivered', 'canceled']);
/** Outcomes that come with Twilio's reason, shown next to the status. */
const EXPLAINED = new Set([...FAILED, 'partially_delivered']);

const CLOSE_REASONS: Record<string, string> = {
  ended: 'ended by the agent',
  'out-of-hours': 'out of hours',
  bot: 'by the bot',
  inactivity: 'after inactivity',
  'opted-out': 'the customer opted out',
  'number-archived': 'the number was archived',
};

/** Messages and activity in one line of time; at the same instant a message comes first. */
type Entry =
  | { at: number; message: TranscriptMessage }
  | { at: number; activity: TranscriptActivity; index: number };

function timeline(transcript: TranscriptData): Entry[] {
  const entries: Entry[] = [
    ...transcript.messages.map((message) => ({ at: Date.parse(message.createdAt), message })),
    ...transcript.activity.map((activity, index) => ({
      at: Date.parse(activity.at),
      activity,
      index,
    })),
  ];
  // Stable: each kind keeps the server's order within the same millisecond.
  return entries.sort((a, b) => a.at - b.at || Number('activity' in a) - Number('activity' in b));
}

/**
 * The conversation as written: the customer's messages on the left, everything sent to
 * them (agents, automated replies, the bot) on the right, with who, when and delivery
 * status (Twilio's reason when one failed); pictures as thumbnails that open full size.
 * Between them, by time, what people did: internal notes (marked, never sent), transfers,
 * reassignments and the close, with who did them. New entries scroll into view and are
 * announced (role log). Reusable wherever a transcript is shown: it reads only its prop.
 */
export function Transcript({ transcript }: { transcript: TranscriptData }) {
  const { conversation, messages, originalText } = transcript;
  const customer = transcript.contact?.name || conversation.customerAddress;
  const entries = timeline(transcript);
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (entries.length > 0) end.current?.scrollIntoView({ block: 'end' });
  }, [entries.length]);
  return (
    <Box role="log" aria-label="Transcript" data-testid="transcript">
      <ChatLog>
        <ChatBookend>
          <ChatBookendItem>Started {formatDateTime(conversation.createdAt)}</ChatBookendItem>
        </ChatBookend>
        {originalText && (
          <ChatEvent>
            <span data-testid="original-text">In reply to the agent's text: “{originalText}”</span>
          </ChatEvent>
        )}
        {messages.length === 0 && <ChatEvent>No messages yet.</ChatEvent>}
        {entries.map((entry) =>
          'message' in entry ? (
            <Message
              key={entry.message.id}
              message={entry.message}
              author={authorOf(entry.message, customer)}
            />
          ) : (
            <Activity
              key={`activity-${entry.index}`}
              activity={entry.activity}
              summary={conversation.wrapUpSummary}
            />
          ),
        )}
        {conversation.closedAt && (
          <ChatBookend>
            <ChatBookendItem>
              Closed {formatDateTime(conversation.closedAt)}
              {conversation.closeReason
                ? `, ${CLOSE_REASONS[conversation.closeReason] ?? conversation.closeReason}`
                : ''}
            </ChatBookendItem>
          </ChatBookend>
        )}
      </ChatLog>
      <div ref={end} />
    </Box>
  );
}

function Message({ message, author }: { message: TranscriptMessage; author: string }) {
  const time = formatDateTime(message.createdAt);
  const failed = FAILED.has(message.status);
  const status = message.direction === 'outbound' ? message.status.replace('_', ' ') : null;
  const failure = EXPLAINED.has(message.status)
    ? [message.errorCode, message.errorMessage].filter((part) => part !== null).join(' ')
    : '';
  const carried = message.sentAs ? SENT_AS[message.sentAs] : undefined;
  const how = [message.contentSid ? 'template' : null, carried].filter(Boolean).join(', ');
  return (
    <ChatMessage
      variant={message.direction === 'inbound' ? 'inbound' : 'outbound'}
      data-testid={`message-${message.direction}`}
    >
      <ChatBubble>
        {message.body && (
          <Text as="span" whiteSpace="pre-wrap" color="inherit">
            {message.body}
          </Text>
        )}
        {message.redactedAt && (
          <Text as="span" fontStyle="italic" color="inherit">
            Text and media removed {formatDateTime(message.redactedAt)}
          </Text>
        )}
        {message.media.length > 0 && (
          <Box
            display="flex"
            flexWrap="wrap"
            columnGap="space30"
            rowGap="space30"
            marginTop="space20"
          >
            {message.media.map((item, index) => (
              <Attachment
                key={item.id}
                media={item}
                label={`Attachment ${index + 1} from ${author}`}
                inverse={message.direction === 'outbound'}
              />
            ))}
          </Box>
        )}
      </ChatBubble>
      <ChatMessageMeta
        aria-label={`${author} at ${time}${how ? ` (${how})` : ''}${status ? `, ${status}` : ''}${failure ? `: ${failure}` : ''}`}
      >
        <ChatMessageMetaItem>
          {author} · {time}
        </ChatMessageMetaItem>
        {message.contentSid && (
          <ChatMessageMetaItem>
            <Badge as="span" variant="decorative10" size="small" data-testid="template-badge">
              Template
            </Badge>
          </ChatMessageMetaItem>
        )}
        {carried && (
          <ChatMessageMetaItem>
            <Badge
              as="span"
              variant={message.sentAs === 'rcs' ? 'decorative30' : 'neutral'}
              size="small"
              data-testid="sent-as"
            >
              {carried}
            </Badge>
          </ChatMessageMetaItem>
        )}
        {status && (
          <ChatMessageMetaItem>
            <Text
              as="span"
              color={failed ? 'colorTextError' : 'colorTextWeak'}
              fontSize="inherit"
              data-testid="delivery-status"
            >
              {status}
              {failure ? ` (${failure})` : ''}
            </Text>
          </ChatMessageMetaItem>
        )}
      </ChatMessageMeta>
    </ChatMessage>
  );
}

/** An internal note as a marked box; the rest as a system line saying who did what. */
function Activity({
  activity,
  summary,
}: {
  activity: TranscriptActivity;
  /** The closer's wrap-up summary, shown with the close. */
  summary: string | null;
}) {
  const time = formatDateTime(activity.at);
  const who = activity.actorName ?? 'Someone';
  if (activity.kind === 'note') {
    return (
      <Box
        role="listitem"
        marginY="space40"
        marginX="space60"
        padding="space40"
        borderRadius="borderRadius30"
        borderStyle="solid"
        borderWidth="borderWidth10"
        borderColor="colorBorderWarningWeak"
        backgroundColor="colorBackgroundWarningWeakest"
        data-testid="internal-note"
      >
        <Text as="p" fontSize="fontSize20" fontWeight="fontWeightSemibold" color="colorTextWeak">
          Internal note · {who} · {time}
        </Text>
        <Text as="p" whiteSpace="pre-wrap" marginTop="space20">
          {activity.body || 'Removed'}
        </Text>
      </Box>
    );
  }
  let line: string;
  switch (activity.kind) {
    case 'transfer': {
      const target = activity.toAgent.id
        ? (activity.toAgent.name ?? 'another agent')
        : `queue ${activity.toQueue.name ?? '(removed)'}`;
      const from = activity.fromAgent.id && activity.fromAgent.id !== activity.actorId;
      line = `${who} transferred it${from ? ` from ${activity.fromAgent.name ?? 'an agent'}` : ''} to ${target}${activity.note ? `: “${activity.note}”` : ''}`;
      break;
    }
    case 'reassign':
      line = `${who} reassigned it${activity.fromAgent.id ? ` from ${activity.fromAgent.name ?? 'an agent'}` : ''} to ${activity.toAgent.name ?? 'an agent'}`;
      break;
    case 'closed':
      line =
        activity.reason === 'ended'
          ? `${who} ended the conversation${activity.disposition ? ` · ${activity.disposition.label}` : ''}${summary ? `: “${summary}”` : ''}`
          : `Closed ${CLOSE_REASONS[activity.reason] ?? activity.reason}`;
      break;
    case 'survey':
      line =
        activity.scale === 'score'
          ? `The customer rated it ${activity.score} out of 5`
          : `The customer answered the survey: ${activity.score === 1 ? 'yes' : 'no'}`;
      break;
    case 'survey-comment':
      line = `The customer commented: “${activity.comment}”`;
      break;
  }
  return (
    <ChatEvent>
      <span data-testid={`activity-${activity.kind}`}>
        {line} · {time}
      </span>
    </ChatEvent>
  );
}

/**
 * Pictures as thumbnails that open full size; other files as links (light on the dark
 * bubbles of outbound messages); the rest say why not.
 */
function Attachment({
  media,
  label,
  inverse,
}: {
  media: TranscriptMedia;
  label: string;
  inverse: boolean;
}) {
  if (!media.url) {
    const why =
      media.status === 'pending'
        ? 'still downloading'
        : media.status === 'refused'
          ? 'refused by the flow'
          : 'could not be downloaded';
    return (
      <Text as="span" fontStyle="italic" color="inherit">
        {label} ({media.contentType}) {why}
      </Text>
    );
  }
  if (media.contentType.startsWith('image/')) {
    return (
      <Anchor
        href={media.url}
        target="_blank"
        rel="noreferrer"
        variant={inverse ? 'inverse' : 'default'}
        aria-label={`${label}, open full size`}
      >
        {/* A fixed square keeps the log from jumping as pictures load. */}
        <img
          src={media.url}
          alt={label}
          width={128}
          height={128}
          data-testid="media-thumbnail"
          style={{ display: 'block', objectFit: 'cover', borderRadius: '4px' }}
        />
      </Anchor>
    );
  }
  return (
    <Anchor
      href={media.url}
      target="_blank"
      rel="noreferrer"
      variant={inverse ? 'inverse' : 'default'}
    >
      {`${label} (${media.contentType})`}
    </Anchor>
  );
}

function authorOf(message: TranscriptMessage, customer: string): string {
  switch (message.author) {
    case 'customer':
      return customer;
    case 'agent':
      return message.agentName ?? 'Agent';
    case 'flow':
      return 'Automated reply';
    case 'bot':
      return 'Bot';
  }
}

function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}
