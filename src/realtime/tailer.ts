/**
 * The one reader of the event log per process: it follows the log by seq and hands each new
 * batch to the connections that are live, so a thousand clients cost one query per batch,
 * not a thousand. Woken by NOTIFY on EVENTS_CHANNEL when the sequencer (of any instance)
 * has numbered events, and by a poll, since a notification can be lost (a dropped LISTEN
 * connection) and is never the data. On the embedded store, where events are numbered as
 * they are written (migration 0035), the commit of a transaction that appended some wakes
 * it. Seqs come without gaps and never below one already given (sequencer.ts), so
 * following `seq > position` misses nothing.
 */
import type { FastifyBaseLogger } from 'fastify';
import { type ConversationReaders, readersOf } from '../conversations/access.js';
import type { Store } from '../db/store.js';
import {
  appendedEvents,
  EVENTS_CHANNEL,
  type LoggedEvent,
  lastEventSeq,
  readEventsAfter,
} from '../event-log.js';
import { eventMessage } from './protocol.js';
import { conversationIdsOf, NO_READERS, needsReaders, type Viewer } from './visibility.js';

/** An event read from the log, with its wire form serialised once for every connection. */
export interface OutgoingEvent {
  event: LoggedEvent;
  data: string;
}

export function outgoing(events: readonly LoggedEvent[]): OutgoingEvent[] {
  return events.map((event) => ({ event, data: JSON.stringify(eventMessage(event)) }));
}

/** A connection that has caught up and now takes its events from the tail. */
export interface LiveSubscriber {
  readonly viewer: Viewer;
  /**
   * The next batch, in log order. Called synchronously with the tail moving past it, so a
   * subscriber that joined at the tail's position gets every later event exactly once;
   * it skips what it already had (seq up to where it joined). `readers` covers the batch's
   * conversations whenever a live viewer needs them.
   */
  deliver(batch: readonly OutgoingEvent[], readers: ConversationReaders): void;
}

export interface LogTailOptions {
  store: Store;
  logger: FastifyBaseLogger;
  pollIntervalMs: number;
  batchSize: number;
  /** False: no LISTEN, only the poll (tests use it to show the poll alone suffices). */
  listen: boolean;
}

const LISTEN_RETRY_MS = 5000;

export class LogTail {
  #position = 0;
  #ready = false;
  #stopped = false;
  readonly #live = new Set<LiveSubscriber>();
  #starting: Promise<void> | undefined;
  #pumping: Promise<void> | undefined;
  #again = false;
  #poll: NodeJS.Timeout | undefined;
  #relisten: NodeJS.Timeout | undefined;
  #listening: Promise<void> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #stopCommitHints: (() => void) | undefined;

  constructor(private readonly options: LogTailOptions) {}

  /** The seq of the last event handed to live subscribers (or the log's end at start). */
  get position(): number {
    return this.#position;
  }

  /**
   * Starts following the log from its current end, once; later calls wait for the first.
   * Started by the first connection, so a process nobody watches does not poll.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#position = await lastEventSeq(this.options.store.db);
    if (this.#stopped) return;
    this.#ready = true;
    if (this.options.listen) this.#listening = this.#listen();
    const { store } = this.options;
    if (store.kind === 'pglite') {
      this.#stopCommitHints = store.onCommit((tx) => {
        if (appendedEvents(tx)) this.wake();
      });
    }
    this.#poll = setInterval(() => this.wake(), this.options.pollIntervalMs);
  }

  #listen(): Promise<void> {
    return this.options.store
      .listen(EVENTS_CHANNEL, () => this.wake())
      .then(
        async (unlisten) => {
          if (this.#stopped) return unlisten();
          this.#unlisten = unlisten;
          // Whatever committed before LISTEN took effect is read now, not at the next poll.
          this.wake();
        },
        (error: unknown) => {
          this.options.logger.warn(
            { err: error },
            'cannot listen for new events; polling meanwhile',
          );
          if (!this.#stopped) {
            this.#relisten = setTimeout(() => {
              this.#listening = this.#listen();
            }, LISTEN_RETRY_MS);
          }
        },
      );
  }

  /** Reads the log now; wake-ups during a read are folded into one more read. */
  wake(): void {
    if (this.#stopped || !this.#ready) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = this.#pump()
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'reading the event log failed');
      })
      .finally(() => {
        this.#pumping = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /**
   * Makes a subscriber live if it has every event up to the tail's position (`seq` is how far
   * it has read); false when the tail has moved past `seq` and it must read on first.
   */
  join(subscriber: LiveSubscriber, seq: number): boolean {
    if (seq < this.#position) return false;
    this.#live.add(subscriber);
    return true;
  }

  leave(subscriber: LiveSubscriber): void {
    this.#live.delete(subscriber);
  }

  async #pump(): Promise<void> {
    const { store, batchSize } = this.options;
    for (;;) {
      if (this.#stopped) return;
      const events = await readEventsAfter(store.db, this.#position, batchSize);
      if (events.length === 0 || this.#stopped) return;
      // Readers are looked up once for the batch and all connections, and only when a live
      // agent needs them; checked again after the lookup, since an agent may join meanwhile.
      const ids = conversationIdsOf(events);
      let readers: ConversationReaders | undefined;
      while (readers === undefined && ids.length > 0 && this.#agentsLive()) {
        readers = await readersOf(store.db, ids);
      }
      const batch = outgoing(events);
      // Nothing awaits from here to the end of the batch: a subscriber joins either before
      // the position moves (and gets this batch) or after (and has read it from the log).
      this.#position = events.at(-1)!.seq;
      for (const subscriber of [...this.#live]) {
        try {
          subscriber.deliver(batch, readers ?? NO_READERS);
        } catch (error) {
          this.options.logger.error({ err: error }, 'delivering events to a connection failed');
        }
      }
      if (events.length < batchSize) return;
    }
  }

  #agentsLive(): boolean {
    for (const subscriber of this.#live) if (needsReaders(subscriber.viewer)) return true;
    return false;
  }

  /** Stops reading; live subscribers are the caller's to close. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopCommitHints?.();
    clearInterval(this.#poll);
    clearTimeout(this.#relisten);
    await this.#starting?.catch(() => {});
    await this.#listening;
    await this.#unlisten?.();
    await this.#pumping;
    this.#live.clear();
  }
}
