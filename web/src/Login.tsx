import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Stack } from '@twilio-paste/core/stack';
import { type FormEvent, useId, useState } from 'react';
import { api, errorText } from './api';
import type { Me } from './session';
import { ErrorCallout } from './ui/ErrorCallout';

/**
 * The sign-in form; `problem` says why it shows: the session ended, or the app could not
 * tell whether someone is signed in.
 */
export function Login({
  problem,
  onSignedIn,
}: {
  problem?: string | undefined;
  onSignedIn: (me: Me) => void;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(problem ?? null);
  const [busy, setBusy] = useState(false);
  const emailId = useId();
  const passwordId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api<Me>('/api/auth/login', { body: { email, password } }));
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box
      as="main"
      display="flex"
      justifyContent="center"
      alignItems="center"
      minHeight="100vh"
      backgroundColor="colorBackground"
      padding="space50"
    >
      <Box width="100%" maxWidth="size40">
        <Card padding="space100">
          <form onSubmit={submit} aria-label="Sign in">
            <Stack orientation="vertical" spacing="space60">
              <Heading as="h1" variant="heading20">
                Sign in to Parley
              </Heading>
              {error && <ErrorCallout>{error}</ErrorCallout>}
              <Box>
                <Label htmlFor={emailId} required>
                  Email
                </Label>
                <Input
                  id={emailId}
                  name="email"
                  type="email"
                  autoComplete="username"
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                  required
                />
              </Box>
              <Box>
                <Label htmlFor={passwordId} required>
                  Password
                </Label>
                <Input
                  id={passwordId}
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  required
                />
              </Box>
              <Button variant="primary" type="submit" loading={busy} fullWidth>
                Sign in
              </Button>
              <Paragraph marginBottom="space0">
                The demo prints its users and passwords when it starts.
              </Paragraph>
            </Stack>
          </form>
        </Card>
      </Box>
    </Box>
  );
}
