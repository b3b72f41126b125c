import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { navigate } from '../router';

/** A path that is no page of the app, or none this person may open. */
export function NotFound({ path, home }: { path: string; home: string }) {
  return (
    <Box padding={['space50', 'space80']} maxWidth="size70">
      <Heading as="h1" variant="heading20">
        Page not found
      </Heading>
      <Paragraph>
        There is no page at {path} that you can open. It may have moved, or it may be for another
        role.
      </Paragraph>
      <Button variant="primary" onClick={() => navigate(home)}>
        Go to my home page
      </Button>
    </Box>
  );
}
