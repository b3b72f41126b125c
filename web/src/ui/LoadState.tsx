import { Box } from '@twilio-paste/core/box';
import { Spinner } from '@twilio-paste/core/spinner';
import { ErrorCallout } from './ErrorCallout';

/**
 * The app's one loading state: a spinner while data is on its way, and the failure of the
 * last load if it failed (shown above any data still on screen, which may now be stale).
 * `what` names the data as in "Loading the queues", "Could not load the flow: …".
 */
export function LoadState({
  what,
  loading = true,
  error = null,
}: {
  what: string;
  loading?: boolean;
  error?: string | null;
}) {
  if (error) {
    return (
      <Box marginBottom="space40">
        <ErrorCallout>{`Could not load ${what}: ${error}`}</ErrorCallout>
      </Box>
    );
  }
  if (!loading) return null;
  return (
    <Box display="flex" justifyContent="center" padding="space60">
      <Spinner decorative={false} title={`Loading ${what}`} size="sizeIcon70" />
    </Box>
  );
}
