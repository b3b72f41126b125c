import { attachOriginations, pairKey } from '../conversations/conversations.js';
import type { Tx } from '../db/store.js';
import type { Flow } from '../flows/flows.js';
import { pairsWithAffinity } from '../routing/affinity.js';

export interface OpenedConversation {
  conversationId: string;
  numberId: string;
  customerAddress: string;
}

/**
 * Of pairs opening conversations with customers' texts, those answering an agent's outreach
 * (the pair has a live affinity), by pairKey.
 */
export async function answeringOutreach(
  tx: Tx,
  pairs: readonly { numberId: string; customerAddress: string }[],
): Promise<Set<string>> {
  return new Set(
    (await pairsWithAffinity(tx, pairs)).map((pair) =>
      pairKey(pair.numberId, pair.customerAddress),
    ),
  );
}

/**
 * Of conversations just opened by customers' texts, those that answer an agent's outreach
 * (`answering`, from answeringOutreach, when the caller has asked already), in the caller's
 * transaction and in one statement each however many there are: the agent's messages still
 * without a conversation join theirs, so it starts with what the agent wrote. Returns their
 * ids; the inbound path and the batch both call this, so a reply is treated alike whichever
 * way it arrives.
 */
export async function joinOutreach(
  tx: Tx,
  opened: readonly OpenedConversation[],
  answering?: ReadonlySet<string>,
): Promise<Set<string>> {
  const withAffinity = answering ?? (await answeringOutreach(tx, opened));
  const replies = opened.filter((o) => withAffinity.has(pairKey(o.numberId, o.customerAddress)));
  await attachOriginations(tx, replies);
  return new Set(replies.map((o) => o.conversationId));
}

/**
 * Whether a conversation just opened gets the flow's initial message: not when it answers
 * an agent's outreach, unless the flow greets those too.
 */
export function greets(flow: Flow, outreachReply: boolean): boolean {
  return !outreachReply || flow.greetOutreachReplies;
}
