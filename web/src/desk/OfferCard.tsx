import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { ButtonGroup } from '@twilio-paste/core/button-group';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { ProgressBar } from '@twilio-paste/core/progress-bar';
import { Text } from '@twilio-paste/core/text';
import { useEffect, useId, useState } from 'react';
import { CHANNEL_LABELS } from '../conversation/types';
import type { Offer } from './types';

const REASONS: Record<Offer['reason'], string> = {
  queue: 'From the queue',
  affinity: 'Reply to your message',
  transfer: 'Transferred to you',
};

function secondsLeft(expiresAt: string): number {
  return Math.max(0, Math.ceil((Date.parse(expiresAt) - Date.now()) / 1000));
}

/** A pending offer with its countdown; the server times it out, the clock only shows it. */
export function OfferCard({
  offer,
  onAccept,
  onReject,
}: {
  offer: Offer;
  onAccept: () => void;
  onReject: () => void;
}) {
  const [left, setLeft] = useState(() => secondsLeft(offer.expiresAt));
  const [total] = useState(() => Math.max(1, secondsLeft(offer.expiresAt)));
  const headingId = useId();
  const progressId = useId();
  useEffect(() => {
    const timer = setInterval(() => setLeft(secondsLeft(offer.expiresAt)), 1000);
    return () => clearInterval(timer);
  }, [offer.expiresAt]);

  return (
    <Card padding="space50">
      <Box as="section" aria-labelledby={headingId} data-testid="offer" role="alert">
        <Heading as="h3" variant="heading50" id={headingId} marginBottom="space0">
          New conversation: {offer.conversation.customerAddress}
        </Heading>
        <Text as="p" color="colorTextWeak" fontSize="fontSize20">
          {REASONS[offer.reason]}
          {offer.conversation.queueName ? ` · ${offer.conversation.queueName}` : ''} ·{' '}
          {CHANNEL_LABELS[offer.conversation.channel]} to {offer.conversation.numberAddress}
        </Text>
        {offer.originalText && (
          <Box marginTop="space30" padding="space30" backgroundColor="colorBackgroundWeak">
            <Text as="p" fontSize="fontSize20">
              You wrote: “{offer.originalText}”
            </Text>
          </Box>
        )}
        {offer.transferNote && (
          <Box marginTop="space30" padding="space30" backgroundColor="colorBackgroundWeak">
            <Text as="p" fontSize="fontSize20">
              Note: {offer.transferNote}
            </Text>
          </Box>
        )}
        <Box marginY="space40">
          <Text as="span" id={progressId} fontSize="fontSize20" aria-live="off">
            {left} s left
          </Text>
          <ProgressBar
            id={`${progressId}-bar`}
            aria-labelledby={progressId}
            value={left}
            maxValue={total}
          />
        </Box>
        <ButtonGroup>
          <Button variant="primary" onClick={onAccept}>
            Accept
          </Button>
          <Button variant="secondary" onClick={onReject}>
            Reject
          </Button>
        </ButtonGroup>
      </Box>
    </Card>
  );
}
