import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Text } from '@twilio-paste/core/text';
import { Topbar, TopbarActions } from '@twilio-paste/core/topbar';
import { type ReactNode, useId, useState } from 'react';
import { errorText } from './api';
import { navigate } from './router';
import { useSession } from './session';
import { ErrorCallout } from './ui/ErrorCallout';

const TITLES: Record<string, string> = {
  '/desk': 'Desk',
  '/supervisor': 'Supervisor',
  '/search': 'Search',
  '/reports': 'Reports',
  '/wallboard': 'Wallboard',
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
  const topbarId = useId();
  const [signOutFailure, setSignOutFailure] = useState<string | null>(null);
  const signOutNow = () => {
    setSignOutFailure(null);
    signOut().catch((failure: unknown) =>
      setSignOutFailure(`Could not sign out: ${errorText(failure)}`),
    );
  };
  return (
    <Box display="flex" flexDirection="column" height="100vh" backgroundColor="colorBackgroundBody">
      {/* Paste's Topbar is a div: the header element makes it the page's banner landmark. */}
      <Box as="header">
        <Topbar id={topbarId}>
          <TopbarActions justify="start">
            <Text as="span" fontWeight="fontWeightBold" fontSize="fontSize40">
              Parley
            </Text>
            {pages.length > 1 && (
              <Box as="nav" aria-label="Pages" display="flex" columnGap="space20">
                {pages.map((page) => (
                  <Button
                    key={page}
                    variant={page === current ? 'secondary' : 'link'}
                    size="small"
                    aria-current={page === current ? 'page' : undefined}
                    onClick={() => navigate(page)}
                  >
                    {TITLES[page]}
                  </Button>
                ))}
              </Box>
            )}
            {/* At the end of the bar; on a phone, wrapped onto a line of its own. */}
            <Box
              display="flex"
              alignItems="center"
              columnGap="space50"
              paddingY="space20"
              marginLeft="auto"
            >
              <Text as="span" color="colorTextWeak">
                {me.name} · {me.role}
              </Text>
              <Button variant="secondary" size="small" onClick={signOutNow}>
                Sign out
              </Button>
            </Box>
          </TopbarActions>
        </Topbar>
      </Box>
      {signOutFailure && (
        <Box paddingX="space50" paddingTop="space30">
          <ErrorCallout>{signOutFailure}</ErrorCallout>
        </Box>
      )}
      <Box as="main" flexGrow={1} minHeight="0" overflow="auto">
        {children}
      </Box>
    </Box>
  );
}
