/**
 * The order in which a queue's strategy prefers its agents, kept in memory for one
 * assignment pass so that each assignment costs a few steps instead of a query ranking every
 * member. The pool only proposes: whoever uses a candidate locks the agent's row and checks
 * their load again in the database, then reports back with `touched` (and `compact` now and
 * then, to forget agents without room).
 */
import type { Channel } from '../admin/addresses.js';

export type { Channel };
export type Strategy = 'longest-idle' | 'round-robin' | 'least-busy';

/** One agent as a pass sees them; the pools of every queue they are in share the object. */
export interface Candidate {
  readonly id: string;
  /** Epoch milliseconds their last conversation ended; null when they never ended one. */
  readonly lastEndedAt: number | null;
  readonly capacity: Record<Channel, number>;
  /** Conversations offered to or active with them (see agents.ts on why offers count). */
  readonly load: Record<Channel, number>;
  /** No longer eligible (presence, membership, skills changed): out for the rest of the pass. */
  gone: boolean;
}

export function freeCapacity(agent: Candidate, channel: Channel): number {
  return agent.gone ? 0 : agent.capacity[channel] - agent.load[channel];
}

/** Agents whose previous handovers of this conversation count against them: id → times. */
export type PreviousHolders = ReadonlyMap<string, number>;

// Once walks have stepped over this many agents without room, compact() drops them.
const COMPACT_AFTER = 64;

export class CandidatePool {
  private list: Candidate[];
  private skipped = 0;
  private readonly byId: ReadonlyMap<string, Candidate>;
  private readonly heap: Heap<{ agent: Candidate; free: number }> | undefined;

  constructor(
    readonly strategy: Strategy,
    readonly channel: Channel,
    agents: readonly Candidate[],
  ) {
    const usable = agents.filter((agent) => freeCapacity(agent, channel) > 0);
    this.byId = new Map(usable.map((agent) => [agent.id, agent]));
    if (strategy === 'least-busy') {
      this.list = [];
      this.heap = new Heap((a, b) => this.compare(a.agent, b.agent, null, a.free, b.free));
      for (const agent of usable) this.heap.push({ agent, free: freeCapacity(agent, channel) });
    } else {
      this.list = usable.sort((a, b) => this.compare(a, b, null));
    }
  }

  /** Whether any agent of the pool has room on its channel. */
  hasRoom(): boolean {
    return this.best(new Map(), null) !== undefined;
  }

  /**
   * The agent with room the strategy prefers for one conversation: agents who never held it
   * come first (a rejected or missed conversation moves on); among the previous holders,
   * fewest times first, only when nobody else can take it. `cursor` is round-robin's last
   * offered agent.
   */
  best(previous: PreviousHolders, cursor: string | null): Candidate | undefined {
    const fresh = this.heap ? this.bestOfHeap(previous) : this.bestOfList(previous, cursor);
    if (fresh || previous.size === 0) return fresh;
    let best: Candidate | undefined;
    for (const [id, times] of previous) {
      const agent = this.byId.get(id);
      if (!agent || freeCapacity(agent, this.channel) <= 0) continue;
      const order = best ? times - previous.get(best.id)! || this.compare(agent, best, cursor) : -1;
      if (order < 0) best = agent;
    }
    return best;
  }

  /** Call after changing an agent's load or flags. */
  touched(agent: Candidate): void {
    const free = freeCapacity(agent, this.channel);
    if (this.heap && free > 0) this.heap.push({ agent, free });
  }

  /**
   * Drops the agents without room that walks keep stepping over. Call between transactions,
   * when no tentative load is pending, since a dropped agent stays out for the pass.
   */
  compact(): void {
    if (this.skipped < COMPACT_AFTER) return;
    this.skipped = 0;
    this.list = this.list.filter((agent) => freeCapacity(agent, this.channel) > 0);
  }

  private bestOfList(previous: PreviousHolders, cursor: string | null): Candidate | undefined {
    const list = this.list;
    const start = this.strategy === 'round-robin' && cursor !== null ? firstAfter(list, cursor) : 0;
    for (let i = 0; i < list.length; i++) {
      const agent = list[(start + i) % list.length]!;
      if (freeCapacity(agent, this.channel) <= 0) this.skipped++;
      else if (!previous.has(agent.id)) return agent;
    }
    return undefined;
  }

  private bestOfHeap(previous: PreviousHolders): Candidate | undefined {
    const heap = this.heap!;
    const kept: { agent: Candidate; free: number }[] = [];
    const seen = new Set<string>();
    let best: Candidate | undefined;
    while (heap.size > 0 && !best) {
      const entry = heap.pop()!;
      const free = freeCapacity(entry.agent, this.channel);
      // Without room, or a duplicate left by `touched`: the entry is dropped (touched pushes
      // a new one if the agent gets room back).
      if (free <= 0 || seen.has(entry.agent.id)) continue;
      // The agent's load changed since the entry was pushed: place it again.
      if (free !== entry.free) {
        heap.push({ agent: entry.agent, free });
        continue;
      }
      seen.add(entry.agent.id);
      kept.push(entry);
      if (!previous.has(entry.agent.id)) best = entry.agent;
    }
    for (const entry of kept) heap.push(entry);
    return best;
  }

  /** The strategy's preference: negative when a comes first. */
  private compare(
    a: Candidate,
    b: Candidate,
    cursor: string | null,
    freeA = freeCapacity(a, this.channel),
    freeB = freeCapacity(b, this.channel),
  ): number {
    switch (this.strategy) {
      case 'round-robin': {
        // Members in id order, starting after the last offered one.
        const wrapA = cursor !== null && a.id <= cursor ? 1 : 0;
        const wrapB = cursor !== null && b.id <= cursor ? 1 : 0;
        return wrapA - wrapB || compareIds(a.id, b.id);
      }
      case 'least-busy':
        return freeB - freeA || compareIdle(a, b) || compareIds(a.id, b.id);
      case 'longest-idle':
        return compareIdle(a, b) || compareIds(a.id, b.id);
    }
  }
}

/** Never having ended a conversation counts as idle the longest. */
function compareIdle(a: Candidate, b: Candidate): number {
  return (
    (a.lastEndedAt ?? Number.NEGATIVE_INFINITY) - (b.lastEndedAt ?? Number.NEGATIVE_INFINITY) || 0
  );
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of the first agent whose id sorts after `id` in a list sorted by id (wrapping to 0). */
function firstAfter(list: readonly Candidate[], id: string): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (list[mid]!.id <= id) low = mid + 1;
    else high = mid;
  }
  return low === list.length ? 0 : low;
}

/** A binary min-heap under `compare`. */
class Heap<T> {
  private readonly data: T[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.data.length;
  }

  push(item: T): void {
    const data = this.data;
    data.push(item);
    let i = data.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(data[i]!, data[parent]!) >= 0) break;
      [data[i], data[parent]] = [data[parent]!, data[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const data = this.data;
    const top = data[0];
    const last = data.pop();
    if (data.length > 0 && last !== undefined) {
      data[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < data.length && this.compare(data[left]!, data[smallest]!) < 0) smallest = left;
        if (right < data.length && this.compare(data[right]!, data[smallest]!) < 0)
          smallest = right;
        if (smallest === i) break;
        [data[i], data[smallest]] = [data[smallest]!, data[i]!];
        i = smallest;
      }
    }
    return top;
  }
}
