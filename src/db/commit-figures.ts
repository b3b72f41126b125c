import type { EventType } from '../events.js';
import type { Executor } from './store.js';

/**
 * Figures a transaction gathers as it goes, for whoever watches commits (Store.onCommit:
 * the metrics). They are read once the transaction has committed and dropped with it when it
 * rolls back or is retried, so nothing counts what did not happen. Writers add a whole
 * statement's figures at once, never a query per row.
 */
export interface CommitFigures {
  /** Events appended, by type (event-log.ts); a set-based insert of unknown size adds none. */
  readonly events: Map<EventType, number>;
  /** For each conversation handed to an agent, the seconds since it was queued. */
  readonly queueWaits: number[];
}

const gathered = new WeakMap<Executor, CommitFigures>();

function figuresOf(tx: Executor): CommitFigures {
  let figures = gathered.get(tx);
  if (!figures) {
    figures = { events: new Map(), queueWaits: [] };
    gathered.set(tx, figures);
  }
  return figures;
}

export function countEvents(tx: Executor, type: EventType, count: number): void {
  const events = figuresOf(tx).events;
  events.set(type, (events.get(type) ?? 0) + count);
}

export function noteQueueWaits(tx: Executor, seconds: readonly number[]): void {
  if (seconds.length > 0) figuresOf(tx).queueWaits.push(...seconds);
}

/** What a committed transaction (or inOneStatement's handle) gathered; undefined: nothing. */
export function committedFigures(tx: Executor): CommitFigures | undefined {
  return gathered.get(tx);
}
