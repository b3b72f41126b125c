import { Callout, CalloutHeading, CalloutText } from '@twilio-paste/core/callout';
import { Text } from '@twilio-paste/core/text';
import { useEffect, useRef, useState } from 'react';
import { useLiveConnected } from '../useResource';

/** How long "back" stays on screen after the live connection returns. */
const BACK_SHOWN_MS = 10_000;

/**
 * The live connection in words: connecting at first; plainly, when it drops, that new
 * offers and messages may not show until it is back (reconnecting by itself); and for a
 * moment after, that it is back and for how long it was down. `onBack` runs on each return.
 */
export function LiveStatus({ onBack }: { onBack?: () => void }) {
  const connected = useLiveConnected();
  const droppedAt = useRef<number | null>(null);
  const [back, setBack] = useState<{ seconds: number } | null>(null);
  const onBackRef = useRef(onBack);
  onBackRef.current = onBack;

  useEffect(() => {
    if (connected === false && droppedAt.current === null) {
      droppedAt.current = Date.now();
      setBack(null);
    }
    if (connected === true && droppedAt.current !== null) {
      const seconds = Math.max(1, Math.round((Date.now() - droppedAt.current) / 1000));
      droppedAt.current = null;
      setBack({ seconds });
      onBackRef.current?.();
      const timer = setTimeout(() => setBack(null), BACK_SHOWN_MS);
      return () => clearTimeout(timer);
    }
  }, [connected]);

  if (connected === null) {
    return (
      <Text as="p" color="colorTextWeak" fontSize="fontSize20" role="status">
        Connecting to live updates…
      </Text>
    );
  }
  if (connected === false) {
    return (
      <Callout variant="warning" role="alert">
        <CalloutHeading as="h2">Live updates are interrupted</CalloutHeading>
        <CalloutText>
          New offers and messages may not show until Parley is reached again. Reconnecting by
          itself; what you type is kept.
        </CalloutText>
      </Callout>
    );
  }
  if (back) {
    return (
      <Callout variant="success" role="status">
        <CalloutText>
          Live updates are back (interrupted for {back.seconds} s); what happened meanwhile is
          shown.
        </CalloutText>
      </Callout>
    );
  }
  return null;
}
