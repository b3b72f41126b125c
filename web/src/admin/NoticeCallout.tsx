import { Box } from '@twilio-paste/core/box';
import { Callout, CalloutText } from '@twilio-paste/core/callout';
import type { ReactNode } from 'react';

/**
 * A Callout that screen readers hear (alert for errors, status otherwise) and that wraps long
 * SIDs and URLs instead of pushing past a phone's edge.
 */
export function NoticeCallout({
  variant,
  onDismiss,
  children,
}: {
  variant: 'success' | 'error';
  onDismiss?: () => void;
  children: ReactNode;
}) {
  return (
    <Callout
      variant={variant}
      role={variant === 'error' ? 'alert' : 'status'}
      onDismiss={onDismiss}
    >
      <Box overflowWrap="anywhere" minWidth="0">
        <CalloutText>{children}</CalloutText>
      </Box>
    </Callout>
  );
}
