import { Box } from '@twilio-paste/core/box';
import { Callout, CalloutText } from '@twilio-paste/core/callout';
import { Spinner } from '@twilio-paste/core/spinner';

/**
 * A section's loading state: a spinner until the first answer, and the failure of the last
 * request if it failed (shown above data that may now be stale).
 */
export function LoadState({
  what,
  loading,
  error,
}: {
  what: string;
  loading: boolean;
  error: string | null;
}) {
  if (error) {
    return (
      <Box marginBottom="space40">
        <Callout variant="error" role="alert">
          <CalloutText>
            Could not load the {what}: {error}
          </CalloutText>
        </Callout>
      </Box>
    );
  }
  if (loading) return <Spinner decorative={false} title={`Loading ${what}`} size="sizeIcon50" />;
  return null;
}
