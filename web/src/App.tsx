import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import type { WebPage } from '../../src/web-pages';
import { ApiError, api, errorText, onSignedOut } from './api';
import { Desk } from './desk/Desk';
import { clearDrafts } from './desk/drafts';
import { Login } from './Login';
import { LiveEvents } from './live';
import { navigate, usePath } from './router';
import { Shell } from './Shell';
import { type Me, SessionContext } from './session';
import { LoadState } from './ui/LoadState';
import { NotFound } from './ui/NotFound';

// Agents never load the supervisor view, the reports or the admin console.
const SupervisorView = lazy(() =>
  import('./supervisor/SupervisorView').then((module) => ({ default: module.SupervisorView })),
);
const SearchPage = lazy(() =>
  import('./search/SearchPage').then((module) => ({ default: module.SearchPage })),
);
const AdminConsole = lazy(() =>
  import('./admin/AdminConsole').then((module) => ({ default: module.AdminConsole })),
);
const ContactRecordPage = lazy(() =>
  import('./contact/ContactRecordPage').then((module) => ({ default: module.ContactRecordPage })),
);

/** A contact's page, /contacts/{id}: every role, reached from a conversation (not the top bar). */
const CONTACT_PATH = /^\/contacts\/([0-9a-f-]{36})$/;
const ReportsPage = lazy(() =>
  import('./reports/ReportsPage').then((module) => ({ default: module.ReportsPage })),
);
const WallboardPage = lazy(() =>
  import('./reports/WallboardPage').then((module) => ({ default: module.WallboardPage })),
);

type Auth =
  | { state: 'loading' }
  | { state: 'signed-out'; problem?: string }
  | { state: 'signed-in'; me: Me };

/** Where each role lands after signing in. */
function homeOf(me: Me): string {
  if (me.role === 'admin') return '/admin';
  if (me.role === 'supervisor') return '/supervisor';
  return '/desk';
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'loading' });

  useEffect(() => {
    api<Me>('/api/me').then(
      (me) => setAuth({ state: 'signed-in', me }),
      // 401: nobody is signed in here. Any other failure is said on the sign-in page.
      (failure: unknown) =>
        setAuth(
          failure instanceof ApiError && failure.status === 401
            ? { state: 'signed-out' }
            : {
                state: 'signed-out',
                problem: `Could not check whether you are signed in: ${errorText(failure)}`,
              },
        ),
    );
    // The server ended the session (expired, revoked, signed out elsewhere): say so; a reply
    // being typed is kept as a draft (desk/drafts.ts) for after signing in again.
    return onSignedOut(() =>
      setAuth({
        state: 'signed-out',
        problem: 'Your session ended. Sign in again to go on; a reply you were typing is kept.',
      }),
    );
  }, []);

  if (auth.state === 'loading') return <LoadState what="Parley" />;
  if (auth.state === 'signed-out') {
    return (
      <Login problem={auth.problem} onSignedIn={(me) => setAuth({ state: 'signed-in', me })} />
    );
  }
  return <SignedIn me={auth.me} onSignedOut={() => setAuth({ state: 'signed-out' })} />;
}

function SignedIn({ me, onSignedOut: signedOut }: { me: Me; onSignedOut: () => void }) {
  const path = usePath();
  const live = useMemo(() => new LiveEvents(signedOut), [signedOut]);
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  const session = useMemo(
    () => ({
      me,
      live,
      // Signed out only once the server says so: until then offers still come.
      signOut: () =>
        api<void>('/api/auth/logout', { method: 'POST' }).then(() => {
          clearDrafts(me.id);
          signedOut();
        }),
    }),
    [me, live, signedOut],
  );

  const allowed = pagesFor(me);
  const contactId = CONTACT_PATH.exec(path)?.[1];
  const page = contactId
    ? '/contacts'
    : allowed.find((p) => path === p || path.startsWith(`${p}/`));
  // The bare address goes to this person's home page; any other unknown one says so.
  useEffect(() => {
    if (path === '/') navigate(homeOf(me));
  }, [path, me]);

  return (
    <SessionContext.Provider value={session}>
      <Shell pages={allowed} current={page ?? homeOf(me)}>
        <Suspense fallback={<LoadState what="the page" />}>
          {!page && path !== '/' && <NotFound path={path} home={homeOf(me)} />}
          {page === '/desk' && <Desk />}
          {page === '/supervisor' && <SupervisorView />}
          {page === '/admin' && <AdminConsole />}
          {contactId && <ContactRecordPage key={contactId} contactId={contactId} />}
          {page === '/search' && <SearchPage />}
          {page === '/reports' && <ReportsPage />}
          {page === '/wallboard' && <WallboardPage />}
        </Suspense>
      </Shell>
    </SessionContext.Provider>
  );
}

/** The pages in this role's top bar (each one of the server's WEB_PAGES). */
function pagesFor(me: Me): WebPage[] {
  if (me.role === 'admin') {
    return ['/desk', '/supervisor', '/search', '/reports', '/wallboard', '/admin'];
  }
  if (me.role === 'supervisor') {
    return ['/desk', '/supervisor', '/search', '/reports', '/wallboard'];
  }
  return ['/desk', '/search'];
}
