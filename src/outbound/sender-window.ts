/**
 * Keeps each sender at or under its rate in every one-second window at Twilio's door, as
 * far as this process's sends go, whatever the delays between a send's start and its
 * arrival. A request reaches Twilio after it starts and before its answer comes back, so
 * a send may start only when the sends started in the window before it, counted from
 * their answers (or still unanswered), leave room for its segments: then no window at the
 * door can hold more than the rate, however late or bunched the requests arrive.
 *
 * Slots booked in the database pace the sender across instances; this is the guarantee
 * within one, and the reason the booking needs only a small margin.
 */
import { setTimeout as delay } from 'node:timers/promises';

interface Send {
  segments: number;
  /** When it stops counting: its answer plus the window; null while unanswered. */
  until: number | null;
}

interface SenderState {
  sends: Send[];
  /** Resolved by the start of the send before: sends start in the order they asked. */
  queue: Promise<void>;
  /** Woken by every answer, for a send waiting on sends none of which has answered. */
  answered: Set<() => void>;
}

export class SenderWindows {
  readonly #senders = new Map<string, SenderState>();

  constructor(private readonly windowMs = 1000) {}

  /**
   * Waits until a send of `segments` may start on the sender without exceeding `rate` per
   * window, and counts it. Call the returned function when its answer (or failure) came
   * back: the send counts until one window after that.
   */
  async start(sender: string, segments: number, rate: number): Promise<() => void> {
    let state = this.#senders.get(sender);
    if (!state) {
      state = { sends: [], queue: Promise.resolve(), answered: new Set() };
      this.#senders.set(sender, state);
    }
    const before = state.queue;
    let started!: () => void;
    state.queue = new Promise((resolve) => {
      started = resolve;
    });
    try {
      await before;
      await this.#room(state, segments, rate);
    } finally {
      started();
    }
    const send: Send = { segments, until: null };
    state.sends.push(send);
    const sending = state;
    return () => {
      send.until = Date.now() + this.windowMs;
      for (const wake of sending.answered) wake();
      sending.answered.clear();
    };
  }

  async #room(state: SenderState, segments: number, rate: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      state.sends = state.sends.filter((send) => send.until === null || send.until > now);
      const counted = state.sends.reduce((sum, send) => sum + send.segments, 0);
      // A message of more segments than the rate goes alone, in an empty window.
      if (segments > rate ? counted === 0 : counted + segments <= rate) return;
      const ends = state.sends.flatMap((send) => (send.until === null ? [] : [send.until]));
      if (ends.length > 0) {
        await delay(Math.min(...ends) - now);
      } else {
        await new Promise<void>((resolve) => state.answered.add(resolve));
      }
    }
  }
}
