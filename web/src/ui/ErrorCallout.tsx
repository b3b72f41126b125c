import { Callout, CalloutText } from '@twilio-paste/core/callout';

/** A failure the user should read now: announced to screen readers as it appears. */
export function ErrorCallout({ children }: { children: string }) {
  return (
    <Callout variant="error" role="alert">
      <CalloutText>{children}</CalloutText>
    </Callout>
  );
}
