import { describe, expect, it } from 'vitest';
import { SenderWindows } from './sender-window.js';

// A short window keeps the tests quick; the rule is the same as with one second.
const WINDOW_MS = 200;

describe('SenderWindows', () => {
  it('lets as many sends start at once as the rate allows, then waits for a window after an answer', async () => {
    const windows = new SenderWindows(WINDOW_MS);
    const first = await windows.start('+15550000001', 1, 2);
    await windows.start('+15550000001', 1, 2);
    first();
    const answeredAt = Date.now();
    await windows.start('+15550000001', 1, 2);
    expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(WINDOW_MS - 1);
  });

  it('does not let a send start while the sends filling the window are unanswered', async () => {
    const windows = new SenderWindows(WINDOW_MS);
    const only = await windows.start('short', 1, 1);
    let started = false;
    const next = windows.start('short', 1, 1).then((answered) => {
      started = true;
      return answered;
    });
    // Twice the window passes with the first send still in flight: the second must not go.
    await new Promise((resolve) => setTimeout(resolve, 2 * WINDOW_MS));
    expect(started).toBe(false);
    only();
    const answeredAt = Date.now();
    await next;
    expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(WINDOW_MS - 1);
  });

  it('counts segments, and lets a message longer than the rate go alone', async () => {
    const windows = new SenderWindows(WINDOW_MS);
    (await windows.start('tf', 2, 3))();
    const answeredAt = Date.now();
    // Two segments counted; two more do not fit under 3 until the first leaves the window.
    (await windows.start('tf', 2, 3))();
    expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(WINDOW_MS - 1);
    const secondAnsweredAt = Date.now();
    // Five segments exceed the rate: they wait for an empty window, then go.
    await windows.start('tf', 5, 3);
    expect(Date.now() - secondAnsweredAt).toBeGreaterThanOrEqual(WINDOW_MS - 1);
  });

  it('starts waiting sends in the order they asked, and keeps senders apart', async () => {
    const windows = new SenderWindows(WINDOW_MS);
    const order: number[] = [];
    const held = await windows.start('a', 1, 1);
    const waiting = [1, 2, 3].map((n) =>
      windows.start('a', 1, 1).then((answered) => {
        order.push(n);
        answered();
      }),
    );
    // Another sender starts while the first one's window is full and unanswered (were it
    // held up, this would wait forever).
    (await windows.start('b', 1, 1))();
    expect(order).toEqual([]);
    held();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
  });
});
