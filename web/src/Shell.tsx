import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Text } from '@twilio-paste/core/text';
import type { ReactNode } from 'react';
import { navigate } from './router';
import { useSession } from './session';

const TITLES: Record<string, string> = {
  '/desk': 'Desk',
  '/supervisor': 'Supervisor',
  '/admin': 'Admin',
};

/** The top bar (pages this role may open, who is signed in, sign out) and the page below. */
export function Shell({
  pages,
  current,
  children,
}: {
  pages: string[];
  current: string;
  children: ReactNode;
}) {
  const { me, signOut } = useSession();
  return (
    <Box display="flex" flexDirection="column" height="100vh" backgroundColor="colorBackgroundBody">
      <Box
        as="header"
        display="flex"
        alignItems="center"
        columnGap="space40"
        paddingX="space50"
        paddingY="space30"
        backgroundColor="colorBackgroundInverse"
        flexWrap="wrap"
      >
        <Text as="span" color="colorTextInverse" fontWeight="fontWeightBold" fontSize="fontSize40">
          Parley
        </Text>
        <Box as="nav" aria-label="Pages" display="flex" columnGap="space20" flexGrow={1}>
          {pages.length > 1 &&
            pages.map((page) => (
              <Button
                key={page}
                variant={page === current ? 'inverse' : 'inverse_link'}
                size="small"
                aria-current={page === current ? 'page' : undefined}
                onClick={() => navigate(page)}
              >
                {TITLES[page]}
              </Button>
            ))}
        </Box>
        <Text as="span" color="colorTextInverseWeak">
          {me.name} · {me.role}
        </Text>
        <Button variant="inverse" size="small" onClick={signOut}>
          Sign out
        </Button>
      </Box>
      <Box as="main" flexGrow={1} minHeight="0" overflow="auto">
        {children}
      </Box>
    </Box>
  );
}
