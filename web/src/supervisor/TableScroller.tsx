import { Box } from '@twilio-paste/core/box';
import type { ReactNode } from 'react';

/**
 * Lets a wide table scroll sideways on a narrow screen instead of squeezing its columns.
 * Focusable and named, so that keyboard users can scroll it too (a table of figures has
 * nothing else to focus).
 */
export function TableScroller({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Box
      overflowX="auto"
      role="region"
      aria-label={label}
      tabIndex={0}
      borderRadius="borderRadius20"
      _focus={{ outline: 'none', boxShadow: 'shadowFocus' }}
    >
      {children}
    </Box>
  );
}
