import { createContext, useContext } from 'react';
import type { LiveEvents } from './live';

export type Role = 'agent' | 'supervisor' | 'admin';

export interface Me {
  id: string;
  email: string;
  name: string;
  role: Role;
}

interface Session {
  me: Me;
  live: LiveEvents;
  /** Rejects, leaving the user signed in, when the server did not end the session. */
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

/** The signed-in user and the live event stream; only pages behind sign-in use it. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
