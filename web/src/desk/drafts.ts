/**
 * Unsent replies, kept in the browser per user and conversation so that a reload, a crash
 * or a session that ended mid-reply loses nothing. Signing out clears the user's drafts:
 * they hold customers' conversations, and the next person at this browser is not them.
 */
const PREFIX = 'parley:draft:';

const keyOf = (userId: string, conversationId: string) => `${PREFIX}${userId}:${conversationId}`;

export function readDraft(userId: string, conversationId: string): string {
  try {
    return localStorage.getItem(keyOf(userId, conversationId)) ?? '';
  } catch {
    return '';
  }
}

export function keepDraft(userId: string, conversationId: string, text: string): void {
  try {
    if (text.trim()) localStorage.setItem(keyOf(userId, conversationId), text);
    else localStorage.removeItem(keyOf(userId, conversationId));
  } catch {
    // Storage full or refused (private mode): the draft lives only in the page.
  }
}

export function clearDrafts(userId: string): void {
  try {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith(`${PREFIX}${userId}:`)) localStorage.removeItem(key);
    }
  } catch {
    // Nothing was kept.
  }
}
