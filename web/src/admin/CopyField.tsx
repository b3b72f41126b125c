import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { CopyIcon } from '@twilio-paste/icons/esm/CopyIcon';
import { useId, useRef, useState } from 'react';

/** A read-only value (a webhook URL) with a button that puts it on the clipboard. */
export function CopyField({ label, value }: { label: string; value: string }) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState('copied');
    } catch {
      // No clipboard (plain http on a remote host): select it for Ctrl+C instead.
      input.current?.select();
      setState('failed');
    }
  };

  return (
    <Box>
      <Label htmlFor={id}>{label}</Label>
      <Box display="flex" columnGap="space30" alignItems="center">
        <Box flexGrow={1} minWidth="0">
          <Input ref={input} id={id} type="text" value={value} readOnly />
        </Box>
        <Button variant="secondary" onClick={copy}>
          <CopyIcon decorative />
          Copy<ScreenReaderOnly> {label}</ScreenReaderOnly>
        </Button>
      </Box>
      {/* The live region stays mounted so that "Copied." is announced when it appears. */}
      <Box aria-live="polite">
        {state !== 'idle' && (
          <HelpText variant={state === 'failed' ? 'warning' : 'default'}>
            {state === 'copied'
              ? 'Copied.'
              : 'The browser did not allow copying; the text is selected, press Ctrl+C.'}
          </HelpText>
        )}
      </Box>
    </Box>
  );
}
