import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Stack } from '@twilio-paste/core/stack';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { api, errorText, type Schemas } from './api';
import type { Me } from './session';
import { ErrorCallout } from './ui/ErrorCallout';

/** Why the server sent the browser back from single sign-on (`?sso_error=`), for people. */
const SSO_PROBLEMS: Record<string, string> = {
  denied: 'The sign-in was cancelled at the sign-in provider. Try again when you are ready.',
  'bad-state':
    'That sign-in could not be finished: it took too long, was opened twice, or began in another browser. Try again.',
  'provider-error':
    'The sign-in provider could not be reached or did not finish the sign-in. Try again; if it keeps happening, tell your administrator.',
  'unknown-user':
    'Your account at the sign-in provider has no Parley user yet. Ask a Parley administrator to add you.',
  disabled: 'Your Parley user is disabled. Ask a Parley administrator.',
  'no-role':
    'Your account at the sign-in provider gives you no role in Parley. Ask your administrator to add you to a Parley group.',
  'no-email':
    'The sign-in provider did not share your email address, which Parley needs for your user. Ask your administrator.',
  'email-unverified':
    'The sign-in provider has not confirmed your email address, so Parley cannot link it to a user or make one for you. Ask your administrator.',
  'linked-elsewhere':
    'Your Parley user is linked to another account at the sign-in provider. Ask a Parley administrator.',
  failed: 'Signing in failed on Parley’s side. Try again in a moment.',
};

/** The single sign-on problem the address names (`?sso_error=`), in words. */
function ssoProblem(): string | undefined {
  const reason = new URLSearchParams(location.search).get('sso_error');
  if (reason === null) return undefined;
  return SSO_PROBLEMS[reason] ?? SSO_PROBLEMS['provider-error'];
}

/** Once shown, the problem leaves the address: a reload or a bookmark does not repeat it. */
function forgetSsoProblem(): void {
  const params = new URLSearchParams(location.search);
  if (!params.has('sso_error')) return;
  params.delete('sso_error');
  const rest = params.toString();
  history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}`);
}

/**
 * The sign-in page: single sign-on and/or the password form, as the server says; `problem`
 * says why it shows: the session ended, or the app could not tell whether someone is signed
 * in.
 */
export function Login({
  problem,
  onSignedIn,
}: {
  problem?: string | undefined;
  onSignedIn: (me: Me) => void;
}) {
  const [error, setError] = useState<string | null>(() => ssoProblem() ?? problem ?? null);
  const [methods, setMethods] = useState<Schemas['SignInMethods'] | null>(null);

  useEffect(() => {
    forgetSsoProblem();
    api<Schemas['SignInMethods']>('/api/auth/methods').then(setMethods, () =>
      // An older or unreachable server: the password form, which says what goes wrong.
      setMethods({ password: true, sso: null }),
    );
  }, []);

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
          <Stack orientation="vertical" spacing="space60">
            <Heading as="h1" variant="heading20">
              Sign in to Parley
            </Heading>
            {error && <ErrorCallout>{error}</ErrorCallout>}
            {methods?.sso && (
              <Button
                as="a"
                href={methods.sso.startUrl}
                variant={methods.password ? 'secondary' : 'primary'}
                fullWidth
              >
                {methods.sso.label}
              </Button>
            )}
            {methods?.password && <PasswordForm onSignedIn={onSignedIn} onProblem={setError} />}
          </Stack>
        </Card>
      </Box>
    </Box>
  );
}

/** Email and password; `onProblem` shows why a sign-in failed (null: clear it). */
function PasswordForm({
  onSignedIn,
  onProblem,
}: {
  onSignedIn: (me: Me) => void;
  onProblem: (problem: string | null) => void;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const emailId = useId();
  const passwordId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    onProblem(null);
    try {
      onSignedIn(await api<Me>('/api/auth/login', { body: { email, password } }));
    } catch (failure) {
      onProblem(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} aria-label="Sign in">
      <Stack orientation="vertical" spacing="space60">
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
  );
}
